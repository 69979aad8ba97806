/*
 * What cgroup v1 and v2 share: finding the hierarchies in /proc/self/mountinfo, creating the
 * agent's directory below agentos/ (remembering which directories this launch made, so only
 * those are removed), joining, reading the figures and removing. Version specifics sit behind
 * cgroup_ops (cgroup1.c, cgroup2.c).
 */
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "die.h"

static const struct {
	const char *name;
	unsigned bit;
} controllers[] = {
    {"memory", CGROUP_MEMORY}, {"cpu", CGROUP_CPU}, {"cpuacct", CGROUP_CPUACCT}, {"pids", CGROUP_PIDS}};

#define ALL_CONTROLLERS (CGROUP_MEMORY | CGROUP_CPU | CGROUP_CPUACCT | CGROUP_PIDS)

/* The controllers of ours named in a comma- or space-separated list. */
static unsigned controllers_in(const char *list)
{
	unsigned bits = 0;
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ", \n");
		for (size_t i = 0; i < sizeof controllers / sizeof *controllers; i++)
			if (strlen(controllers[i].name) == n && strncmp(p, controllers[i].name, n) == 0)
				bits |= controllers[i].bit;
		p += n;
		p += strspn(p, ", \n");
	}
	return bits;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *out = s;
	for (char *in = s; *in; out++) {
		if (in[0] == '\\' && in[1] >= '0' && in[1] <= '3' && in[2] >= '0' && in[2] <= '7' && in[3] >= '0' &&
		    in[3] <= '7') {
			*out = (char)((in[1] - '0') * 64 + (in[2] - '0') * 8 + (in[3] - '0'));
			in += 4;
		} else {
			*out = *in++;
		}
	}
	*out = '\0';
}

static struct cgroup_hierarchy *add(struct cgroup_set *set, int version, const char *root, unsigned bits)
{
	if (set->count == (int)(sizeof set->h / sizeof *set->h) || strlen(root) >= PATH_MAX / 2)
		return NULL;
	struct cgroup_hierarchy *h = &set->h[set->count++];
	memset(h, 0, sizeof *h);
	h->version = version;
	h->ops = version == 1 ? &cgroup1_ops : &cgroup2_ops;
	h->controllers = bits;
	strcpy(h->root, root);
	return h;
}

/* The delegated directory given for the hierarchy mounted at `mount`, or NULL. */
static const char *delegated(const char *mount, char *const *roots, size_t nroots)
{
	size_t n = strlen(mount);
	for (size_t i = 0; i < nroots; i++)
		if (strncmp(roots[i], mount, n) == 0 && (roots[i][n] == '/' || roots[i][n] == '\0'))
			return roots[i];
	return NULL;
}

void cgroup_detect(struct cgroup_set *set, int need_writable, char *const *roots, size_t nroots)
{
	memset(set, 0, sizeof *set);
	set->layout = "none";
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return;
	char *line = NULL, v2root[PATH_MAX / 2] = "";
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		/* id parent major:minor root mountpoint options [optional...] - fstype source superoptions */
		char *sep = strstr(line, " - ");
		if (!sep)
			continue;
		*sep = '\0';
		char *fields[5], *save = NULL, *p = line;
		int n = 0;
		for (char *tok; n < 5 && (tok = strtok_r(p, " ", &save)); p = NULL)
			fields[n++] = tok;
		if (n < 5)
			continue;
		char *mountpoint = fields[4];
		char *fstype = strtok_r(sep + 3, " ", &save);
		strtok_r(NULL, " ", &save); /* source */
		char *super = strtok_r(NULL, " \n", &save);
		if (!fstype || !super)
			continue;
		unescape(mountpoint);
		/* With delegated roots, a hierarchy is used only at the directory delegated in it. */
		const char *root = nroots ? delegated(mountpoint, roots, nroots) : mountpoint;
		if (!root)
			continue;
		if (strcmp(fstype, "cgroup") == 0) {
			unsigned bits = controllers_in(super) & ~set->available;
			if (bits && add(set, 1, root, bits))
				set->available |= bits;
		} else if (strcmp(fstype, "cgroup2") == 0 && !v2root[0] && strlen(root) < sizeof v2root) {
			strcpy(v2root, root);
		}
	}
	free(line);
	fclose(f);

	if (v2root[0]) {
		/* What the root (or the delegated directory) hands its children; a controller bound to
		 * v1 never shows up here. */
		char enabled[512] = "";
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s/cgroup.subtree_control", v2root);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t r = read(fd, enabled, sizeof enabled - 1);
			enabled[r > 0 ? r : 0] = '\0';
			close(fd);
		}
		unsigned bits = controllers_in(enabled) & (CGROUP_MEMORY | CGROUP_CPU | CGROUP_PIDS) & ~set->available;
		/* Pure v2 without delegated controllers still gives cpu.stat and cgroup.kill. */
		if ((bits || set->count == 0) && add(set, 2, v2root, bits))
			set->available |= bits;
	}

	if (need_writable) {
		/* Keep only the hierarchies this user may create below; drop the controllers of the rest. */
		int kept = 0;
		set->available = 0;
		for (int i = 0; i < set->count; i++) {
			char path[PATH_MAX];
			snprintf(path, sizeof path, "%s/agentos", set->h[i].root);
			if (access(path, W_OK) == 0 || (errno == ENOENT && access(set->h[i].root, W_OK) == 0)) {
				set->h[kept++] = set->h[i];
				set->available |= set->h[i].controllers;
			}
		}
		set->count = kept;
	}
	int v1 = 0, v2 = 0;
	for (int i = 0; i < set->count; i++)
		*(set->h[i].version == 1 ? &v1 : &v2) = 1;
	set->layout = v1 && v2 ? "hybrid" : v1 ? "v1" : v2 ? "v2" : "none";
}

/* mkdir -p root/rel; 0, or -1 with errno (EEXIST: the agent's cgroup is already there). */
static int make_dirs(struct cgroup_hierarchy *h, const char *rel)
{
	int n = snprintf(h->dir, sizeof h->dir, "%s/%s", h->root, rel);
	if (n < 0 || (size_t)n >= sizeof h->dir) {
		errno = ENAMETOOLONG;
		return -1;
	}
	h->created_from = 0;
	/* agentos/ itself is the project's parent: made when missing, never removed. */
	size_t keep = strlen(h->root) + strlen("/agentos");
	for (char *slash = h->dir + strlen(h->root) + 1;; slash++) {
		slash = strchr(slash, '/');
		if (slash)
			*slash = '\0';
		int made = mkdir(h->dir, 0755) == 0;
		if (!made && (errno != EEXIST || !slash))
			return -1;
		if (made && !h->created_from && strlen(h->dir) > keep)
			h->created_from = (int)(strrchr(h->dir, '/') - h->dir);
		if (!slash)
			return 0;
		if (h->ops->prepare_parent(h, h->dir) != 0)
			return -1;
		*slash = '/';
	}
}

void cgroup_create(struct cgroup_set *set, const char *rel, const struct cgroup_limits *limits)
{
	/* main.c gives a limit here only when a hierarchy offers its controller (else the
	 * launcher's own watchdog holds it): a limit never lands where nothing enforces it. */
	for (int i = 0; i < set->count; i++) {
		struct cgroup_hierarchy *h = &set->h[i];
		/* A concurrent launcher may remove a shared parent between our mkdirs: try again. */
		int tries = 0, rc;
		while ((rc = make_dirs(h, rel)) != 0 && errno == ENOENT && ++tries < 5)
			;
		/* On failure h->dir and created_from still say what to remove (an existing leaf: nothing). */
		if (rc != 0)
			die_errno("cgroup", "creating cgroup %s/%s", h->root, rel);
		h->ops->limit(h, limits);
	}
}

void cgroup_attach(const struct cgroup_set *set, pid_t pid)
{
	char value[32];
	snprintf(value, sizeof value, "%d", (int)pid);
	for (int i = 0; i < set->count; i++)
		if (cgroup_write(set->h[i].dir, "cgroup.procs", value) != 0)
			die_errno("cgroup", "joining %s", set->h[i].dir);
}

void cgroup_read_stats(const struct cgroup_set *set, struct cgroup_stats *stats)
{
	memset(stats, 0, sizeof *stats);
	for (int i = 0; i < set->count; i++)
		if (set->h[i].dir[0])
			set->h[i].ops->stats(&set->h[i], stats);
}

static void sleep_ms(long ms)
{
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&t, &t) != 0 && errno == EINTR)
		;
}

void cgroup_remove(struct cgroup_set *set)
{
	for (int i = 0; i < set->count; i++) {
		struct cgroup_hierarchy *h = &set->h[i];
		if (!h->dir[0] || !h->created_from)
			continue;
		if (h->ops->kill(h) != 0)
			cgroup_kill_procs(h->dir);
		/* EBUSY while the last processes are still being released: retry briefly (~1 s). */
		long waited = 0;
		for (long ms = 1; rmdir(h->dir) != 0 && errno == EBUSY && waited < 1000; ms = ms < 64 ? ms * 2 : ms) {
			sleep_ms(ms);
			waited += ms;
			cgroup_kill_procs(h->dir);
		}
		/* Then the parents up to agentos/, while empty, whoever made them: with several agents
		 * of one kernel the launch that made agentos/<kernel-id>/ may end first, so the last one
		 * out removes it. A launch creating below a parent removed meanwhile starts over
		 * (cgroup_create retries ENOENT). */
		size_t keep = strlen(h->root) + strlen("/agentos");
		for (char *slash; (slash = strrchr(h->dir, '/')) && (size_t)(slash - h->dir) > keep;) {
			*slash = '\0';
			if (rmdir(h->dir) != 0)
				break;
		}
		h->dir[0] = '\0';
	}
}

void cgroup_format(const struct cgroup_set *set, char *buf, size_t size)
{
	size_t n = 0;
	buf[0] = '\0';
	for (int i = 0; i < set->count && n < size; i++) {
		const struct cgroup_hierarchy *h = &set->h[i];
		const char *key = "unified";
		if (h->version == 1)
			for (size_t c = 0; c < sizeof controllers / sizeof *controllers; c++)
				if (h->controllers & controllers[c].bit) {
					key = controllers[c].name;
					break;
				}
		int w = snprintf(buf + n, size - n, " cgroup.%s=%s", key, h->dir);
		if (w < 0)
			break;
		n += (size_t)w;
	}
}

int cgroup_write(const char *dir, const char *file, const char *value)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = strlen(value);
	ssize_t w = write(fd, value, len);
	int err = errno;
	close(fd);
	if (w == (ssize_t)len)
		return 0;
	errno = w < 0 ? err : EIO;
	return -1;
}

static ssize_t read_file(const char *dir, const char *file, char *buf, size_t size)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t n = 0;
	for (ssize_t r; n < size - 1 && (r = read(fd, buf + n, size - 1 - n)) != 0;) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	return (ssize_t)n;
}

int cgroup_read_u64(const char *dir, const char *file, const char *key, uint64_t *value)
{
	char buf[4096];
	if (read_file(dir, file, buf, sizeof buf) < 0)
		return -1;
	const char *at = buf;
	if (key) {
		size_t klen = strlen(key);
		for (at = buf; at; at = strchr(at, '\n'), at = at ? at + 1 : NULL)
			if (strncmp(at, key, klen) == 0 && at[klen] == ' ')
				break;
		if (!at)
			return -1;
		at += klen + 1;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(at, &end, 10);
	if (end == at || errno)
		return -1;
	*value = v;
	return 0;
}

void cgroup_kill_procs(const char *dir)
{
	/* A fork loop can add pids between reads; SIGKILL wins within a few rounds. */
	for (int round = 0; round < 100; round++) {
		char buf[16384];
		if (read_file(dir, "cgroup.procs", buf, sizeof buf) <= 0)
			return;
		for (char *p = buf, *end; *p; p = end) {
			long pid = strtol(p, &end, 10);
			if (end == p)
				break;
			if (pid > 1)
				kill((pid_t)pid, SIGKILL);
		}
		sleep_ms(1);
	}
}
