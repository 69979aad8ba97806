/*
 * Building the new root, in two steps. First, still as the launcher's own user (which can walk
 * the kernel's private state directory), every bind source is opened without following a
 * symbolic link anywhere in its path (path.c): a bind goes to what the kernel named, never to
 * wherever a link planted by an earlier incarnation points. Then, as the namespace's root, the
 * tmpfs that becomes `/` is mounted over /tmp and pivoted into place, with the host's root kept
 * at /oldroot, and every source is bound from its fd onto a mountpoint made on the new tmpfs,
 * never on the host. Mounts are applied shallowest first, so a grant inside another grant lands
 * on top of it. Directories made only to reach a grant (/home, /home/<user> for a grant below
 * it) are mode 0111 on a read-only root: passable, never listable, so nothing of a home shows
 * but the granted path itself. Read-only binds are made read-only recursively (mount_setattr,
 * or a remount of each submount before Linux 5.12). Every tmpfs is bounded in size and inodes.
 */
#include "mount.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "die.h"
#include "path.h"

#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
#define MOUNT_ATTR_NOEXEC 0x00000008
struct mount_attr {
	unsigned long long attr_set, attr_clr, propagation, userns_fd;
};
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif

#define OLDROOT "/oldroot"
#define HIDDEN_FILE "/.agentos-hidden"

enum op_kind { OP_SYSTEM, OP_RO, OP_RW, OP_TMPFS, OP_PROC, OP_DEV, OP_HIDE_FILE, OP_HIDE_DIR };

struct op {
	enum op_kind kind;
	const char *path; /* where it appears inside */
	long long size;
	int mode;
	int depth, order;
	int fd;                /* binds: the source, opened strictly; -1 otherwise */
	char link[PATH_MAX];   /* OP_SYSTEM: a host symlink (/bin -> usr/bin) is recreated, not bound */
};

struct mount_sources {
	struct op *ops;
	size_t n;
	int workdir_fd;
};

static const char *const system_dirs[] = {"/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc"};
static const char *const hidden_files[] = {"/etc/shadow", "/etc/gshadow", "/etc/sudoers"};
static const char *const hidden_dirs[] = {"/etc/ssh"};

static int depth(const char *path)
{
	int d = 0;
	for (const char *c = path; *c; c++)
		d += *c == '/';
	return d;
}

static int by_depth(const void *a, const void *b)
{
	const struct op *x = a, *y = b;
	return x->depth != y->depth ? x->depth - y->depth : x->order - y->order;
}

static int under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* mkdir -p inside the new root; the components are ours (tmpfs) or already exist. Made ones
 * are 0111: a mountpoint is covered by its mount, and a directory on the way to one may be
 * passed, never listed (we are their owner, but the root is remounted read-only at the end, and
 * without CAP_DAC_OVERRIDE the owner's missing read bit holds). */
static void make_dirs(const char *path)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *slash = buf + 1;; slash++) {
		slash = strchr(slash, '/');
		if (slash)
			*slash = '\0';
		if (mkdir(buf, 0111) != 0 && errno != EEXIST)
			die_errno("mount", "mkdir %s", buf);
		if (!slash)
			return;
		*slash = '/';
	}
}

static void make_file(const char *path)
{
	/* Inside a grant the mountpoint already exists (same path), on a read-only mount. */
	if (access(path, F_OK) == 0)
		return;
	char parent[PATH_MAX];
	snprintf(parent, sizeof parent, "%s", path);
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		make_dirs(parent);
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0444);
	if (fd < 0 && errno != EEXIST)
		die_errno("mount", "creating mountpoint %s", path);
	if (fd >= 0)
		close(fd);
}

static unsigned long locked_flags(const char *path)
{
	struct statvfs st;
	if (statvfs(path, &st) != 0)
		return 0;
	unsigned long f = 0;
	f |= (st.f_flag & ST_NOSUID) ? MS_NOSUID : 0;
	f |= (st.f_flag & ST_NODEV) ? MS_NODEV : 0;
	f |= (st.f_flag & ST_NOEXEC) ? MS_NOEXEC : 0;
	f |= (st.f_flag & ST_NOATIME) ? MS_NOATIME : 0;
	f |= (st.f_flag & ST_NODIRATIME) ? MS_NODIRATIME : 0;
	f |= (st.f_flag & ST_RELATIME) ? MS_RELATIME : 0;
	f |= (st.f_flag & ST_RDONLY) ? MS_RDONLY : 0;
	return f;
}

/* Before mount_setattr: remount `path` and every mount below it, keeping the flags a user
 * namespace may not clear (nosuid, nodev, noexec, atime). */
static void remount_tree(const char *path, unsigned long add)
{
	if (mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | locked_flags(path) | add, NULL) != 0)
		die_errno("mount", "remount %s", path);
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return;
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		char *save = NULL, *tok = strtok_r(line, " ", &save);
		for (int i = 0; tok && i < 4; i++)
			tok = strtok_r(NULL, " ", &save);
		if (tok && under(tok, path) && strcmp(tok, path) != 0)
			mount(NULL, tok, NULL, MS_REMOUNT | MS_BIND | locked_flags(tok) | add, NULL);
	}
	free(line);
	fclose(f);
}

static void set_attrs(const char *path, unsigned long long attrs, int recursive)
{
	struct mount_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.attr_set = attrs;
#ifdef SYS_mount_setattr
	if (syscall(SYS_mount_setattr, AT_FDCWD, path, recursive ? AT_RECURSIVE : 0, &attr, sizeof attr) == 0)
		return;
	if (errno != ENOSYS)
		die_errno("mount", "mount_setattr %s", path);
#endif
	unsigned long flags = ((attrs & MOUNT_ATTR_RDONLY) ? MS_RDONLY : 0) |
			      ((attrs & MOUNT_ATTR_NOSUID) ? MS_NOSUID : 0) |
			      ((attrs & MOUNT_ATTR_NODEV) ? MS_NODEV : 0) |
			      ((attrs & MOUNT_ATTR_NOEXEC) ? MS_NOEXEC : 0);
	if (recursive)
		remount_tree(path, flags);
	else if (mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | locked_flags(path) | flags, NULL) != 0)
		die_errno("mount", "remount %s", path);
}

/* Binds the source `fd` (and every mount below it) onto `dest`: the new mount API where there is
 * one, else the fd's magic link, which mount(2) follows to the very object opened. */
static void bind_fd(int fd, const char *dest)
{
#ifdef SYS_open_tree
	int tree = (int)syscall(SYS_open_tree, fd, "", OPEN_TREE_CLONE | O_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
	if (tree >= 0) {
		if (syscall(SYS_move_mount, tree, "", AT_FDCWD, dest, MOVE_MOUNT_F_EMPTY_PATH) != 0)
			die_errno("mount", "bind %s", dest);
		close(tree);
		return;
	}
	if (errno != ENOSYS)
		die_errno("mount", "bind %s (open_tree)", dest);
#endif
	char source[64];
	snprintf(source, sizeof source, OLDROOT "/proc/self/fd/%d", fd);
	if (mount(source, dest, NULL, MS_BIND | MS_REC, NULL) != 0)
		die_errno("mount", "bind %s", dest);
}

static void bind(const struct op *op, int writable)
{
	struct stat st;
	if (fstat(op->fd, &st) != 0)
		die_errno("mount", "granting %s", op->path);
	if (S_ISDIR(st.st_mode))
		make_dirs(op->path);
	else
		make_file(op->path);
	bind_fd(op->fd, op->path);
	/* Device nodes only work where the host put them: no nodev on grants below /dev. */
	unsigned long long attrs = MOUNT_ATTR_NOSUID | (under(op->path, "/dev") ? 0 : MOUNT_ATTR_NODEV);
	set_attrs(op->path, attrs | (writable ? 0 : MOUNT_ATTR_RDONLY), 1);
}

/* /bin, /lib … are symlinks into /usr on merged-/usr systems: the link is recreated. */
static void bind_system(const struct op *op)
{
	if (op->link[0]) {
		if (symlink(op->link, op->path) != 0 && errno != EEXIST)
			die_errno("mount", "symlink %s", op->path);
	} else if (op->fd >= 0) {
		bind(op, 0);
	}
}

static void mount_tmpfs(const char *path, long long size, int mode, unsigned long flags)
{
	struct stat st;
	/* A symlink (/var/run → /run on the host, inside a grant) points at a tmpfs of ours already. */
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
		return;
	make_dirs(path);
	char options[96];
	/* Inodes bounded too: a flood of empty files costs memory no `size` counts. */
	long long inodes = size / 4096 < 1024 ? 1024 : size / 4096;
	snprintf(options, sizeof options, "mode=%o,size=%lld,nr_inodes=%lld", mode, size, inodes);
	if (mount("tmpfs", path, "tmpfs", flags, options) != 0)
		die_errno("mount", "tmpfs on %s", path);
}

static void hide_file(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return;
	/* An empty mode-000 file, read-only: without CAP_DAC_OVERRIDE even its owner gets EACCES. */
	int fd = open(HIDDEN_FILE, O_WRONLY | O_CREAT | O_CLOEXEC, 0);
	if (fd < 0 && errno != EEXIST)
		die_errno("mount", "creating %s", HIDDEN_FILE);
	if (fd >= 0)
		close(fd);
	if (mount(HIDDEN_FILE, path, NULL, MS_BIND, NULL) != 0)
		die_errno("mount", "covering %s", path);
	set_attrs(path, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, 0);
}

static void hide_dir(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return;
	if (mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=000,size=4k,nr_inodes=1") != 0)
		die_errno("mount", "covering %s", path);
}

static void setup_proc(int fresh)
{
	make_dirs("/proc");
	if (fresh) {
		/* Before /oldroot goes: a user namespace may mount proc only while a full one is visible. */
		if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
			die_errno("mount", "proc on /proc");
	} else if (mount(OLDROOT "/proc", "/proc", NULL, MS_BIND | MS_REC, NULL) != 0) {
		die_errno("mount", "bind /proc");
	}
}

static void setup_dev(long long shm_size)
{
	static const char *const nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
	static const char *const links[][2] = {
	    {"/proc/self/fd", "/dev/fd"}, {"/proc/self/fd/0", "/dev/stdin"},
	    {"/proc/self/fd/1", "/dev/stdout"}, {"/proc/self/fd/2", "/dev/stderr"}};
	mount_tmpfs("/dev", 64 << 10, 0755, MS_NOSUID | MS_NOEXEC);
	for (size_t i = 0; i < sizeof nodes / sizeof *nodes; i++) {
		char source[64], target[64];
		snprintf(source, sizeof source, OLDROOT "/dev/%s", nodes[i]);
		snprintf(target, sizeof target, "/dev/%s", nodes[i]);
		if (access(source, F_OK) != 0)
			continue;
		make_file(target);
		if (mount(source, target, NULL, MS_BIND, NULL) != 0)
			die_errno("mount", "bind %s", target);
	}
	for (size_t i = 0; i < sizeof links / sizeof *links; i++)
		if (symlink(links[i][0], links[i][1]) != 0)
			die_errno("mount", "symlink %s", links[i][1]);
	mount_tmpfs("/dev/shm", shm_size, 01777, MS_NOSUID | MS_NODEV | MS_NOEXEC);
	set_attrs("/dev", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, 0);
}

static int granted(const struct spec *spec, const char *path)
{
	for (size_t i = 0; i < spec->ro.count; i++)
		if (under(spec->ro.items[i], path))
			return 1;
	for (size_t i = 0; i < spec->rw.count; i++)
		if (under(spec->rw.items[i], path))
			return 1;
	return spec->workdir && under(spec->workdir, path);
}

static void open_source(struct op *op, const char *host)
{
	op->fd = path_open_strict(host);
	if (op->fd >= 0)
		return;
	if (errno == ELOOP)
		die_errno("mount", "granting %s: a component of the path is a symbolic link (grant the path it points to)", host);
	die_errno("mount", "granting %s", host);
}

struct mount_sources *mount_open_sources(const struct spec *spec)
{
	size_t cap = 16 + spec->ro.count + spec->rw.count + spec->tmpfs.count;
	struct mount_sources *s = calloc(1, sizeof *s);
	struct op *ops = s ? calloc(cap, sizeof *ops) : NULL;
	if (!ops)
		die_errno("mount", "planning mounts");
	s->ops = ops;
	s->workdir_fd = -1;
	size_t n = 0;
#define ADD(k, p, sz, m) (ops[n] = (struct op){(k), (p), (sz), (m), depth(p), (int)n, -1, ""}, &ops[n++])
	for (size_t i = 0; i < sizeof system_dirs / sizeof *system_dirs; i++) {
		struct stat st;
		if (lstat(system_dirs[i], &st) != 0)
			continue;
		struct op *op = ADD(OP_SYSTEM, system_dirs[i], 0, 0);
		if (S_ISLNK(st.st_mode)) {
			ssize_t len = readlink(system_dirs[i], op->link, sizeof op->link - 1);
			if (len < 0)
				die_errno("mount", "readlink %s", system_dirs[i]);
			op->link[len] = '\0';
		} else if (S_ISDIR(st.st_mode)) {
			open_source(op, system_dirs[i]);
		}
	}
	ADD(OP_PROC, "/proc", 0, 0);
	ADD(OP_DEV, "/dev", 0, 0);
	ADD(OP_TMPFS, "/tmp", spec->tmp_size, 01777);
	ADD(OP_TMPFS, "/run", spec->tmp_size, 0755);
	ADD(OP_TMPFS, "/var/run", spec->tmp_size, 0755);
	for (size_t i = 0; i < spec->ro.count; i++)
		open_source(ADD(OP_RO, spec->ro.items[i], 0, 0), spec->ro.items[i]);
	for (size_t i = 0; i < spec->rw.count; i++)
		open_source(ADD(OP_RW, spec->rw.items[i], 0, 0), spec->rw.items[i]);
	if (spec->workdir) {
		struct op *op = ADD(OP_RW, spec->workdir_at ? spec->workdir_at : spec->workdir, 0, 0);
		open_source(op, spec->workdir);
		s->workdir_fd = op->fd;
	}
	for (size_t i = 0; i < spec->tmpfs.count; i++)
		ADD(OP_TMPFS, spec->tmpfs.items[i], spec->tmp_size, 0755);
	/* Secrets stay covered unless a grant names them (or something inside them) explicitly. */
	for (size_t i = 0; i < sizeof hidden_files / sizeof *hidden_files; i++)
		if (!granted(spec, hidden_files[i]))
			ADD(OP_HIDE_FILE, hidden_files[i], 0, 0);
	for (size_t i = 0; i < sizeof hidden_dirs / sizeof *hidden_dirs; i++)
		if (!granted(spec, hidden_dirs[i]))
			ADD(OP_HIDE_DIR, hidden_dirs[i], 0, 0);
#undef ADD
	s->n = n;
	qsort(ops, n, sizeof *ops, by_depth);
	return s;
}

int mount_workdir_fd(const struct mount_sources *sources)
{
	return sources->workdir_fd;
}

void mount_setup_root(const struct spec *spec, struct mount_sources *sources, int fresh_proc)
{
	/* Private first: nothing below may propagate back to the host's mount table. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		die_errno("mount", "making / private");
	if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m,nr_inodes=4096") != 0)
		die_errno("mount", "tmpfs for the new root");
	if (chdir("/tmp") != 0 || mkdir("oldroot", 0700) != 0)
		die_errno("mount", "preparing the new root");
	if (syscall(SYS_pivot_root, ".", "oldroot") != 0)
		die_errno("mount", "pivot_root");
	if (chdir("/") != 0)
		die_errno("mount", "chdir /");

	for (size_t i = 0; i < sources->n; i++) {
		const struct op *op = &sources->ops[i];
		switch (op->kind) {
		case OP_SYSTEM: bind_system(op); break;
		case OP_RO: bind(op, 0); break;
		case OP_RW: bind(op, 1); break;
		case OP_TMPFS: mount_tmpfs(op->path, op->size, op->mode, MS_NOSUID | MS_NODEV); break;
		case OP_PROC: setup_proc(fresh_proc); break;
		case OP_DEV: setup_dev(spec->tmp_size); break;
		case OP_HIDE_FILE: hide_file(op->path); break;
		case OP_HIDE_DIR: hide_dir(op->path); break;
		}
		if (op->fd >= 0)
			close(op->fd);
	}
	free(sources->ops);
	free(sources);

	/* The host's root goes; what was not granted is simply absent (/home, /root, …). */
	if (umount2(OLDROOT, MNT_DETACH) != 0 || rmdir(OLDROOT) != 0)
		die_errno("mount", "detaching the old root");
	unlink(HIDDEN_FILE);
	set_attrs("/", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0);
}
