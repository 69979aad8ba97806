/*
 * Landlock without libraries: the three syscalls and the UAPI constants up to ABI 6, defined
 * here because the build machine's headers may be older than the kernel it runs on. Rules are
 * opened with path_open_strict (no symlink in a granted path is followed), each given only the
 * rights its file type allows (a regular file takes no directory rights, or add_rule fails).
 */
#include "landlock.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "die.h"
#include "path.h"

#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#define __NR_landlock_add_rule 445
#define __NR_landlock_restrict_self 446
#endif

#define LL_CREATE_RULESET_VERSION (1U << 0)
#define LL_RULE_PATH_BENEATH 1

#define FS_EXECUTE (1ULL << 0)
#define FS_WRITE_FILE (1ULL << 1)
#define FS_READ_FILE (1ULL << 2)
#define FS_READ_DIR (1ULL << 3)
#define FS_REMOVE_DIR (1ULL << 4)
#define FS_REMOVE_FILE (1ULL << 5)
#define FS_MAKE_CHAR (1ULL << 6)
#define FS_MAKE_DIR (1ULL << 7)
#define FS_MAKE_REG (1ULL << 8)
#define FS_MAKE_SOCK (1ULL << 9)
#define FS_MAKE_FIFO (1ULL << 10)
#define FS_MAKE_BLOCK (1ULL << 11)
#define FS_MAKE_SYM (1ULL << 12)
#define FS_REFER (1ULL << 13)    /* ABI 2 */
#define FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#define FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#define NET_BIND_TCP (1ULL << 0)    /* ABI 4 */
#define NET_CONNECT_TCP (1ULL << 1) /* ABI 4 */
#define SCOPE_ABSTRACT_UNIX (1ULL << 0) /* ABI 6 */
#define SCOPE_SIGNAL (1ULL << 1)        /* ABI 6 */

/* Rights a regular file (not a directory) may be given. */
#define FS_FILE_RIGHTS (FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV)
#define FS_READ (FS_EXECUTE | FS_READ_FILE | FS_READ_DIR)

struct ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

struct path_beneath_attr {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

static const char *const system_dirs[] = {"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc"};
static const char *const dev_nodes[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"};

int landlock_abi(void)
{
	long abi = syscall(__NR_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
	return abi < 0 ? 0 : (int)abi;
}

static uint64_t handled_fs(int abi)
{
	uint64_t fs = (FS_MAKE_SYM << 1) - 1; /* ABI 1: bits 0-12 */
	if (abi >= 2)
		fs |= FS_REFER;
	if (abi >= 3)
		fs |= FS_TRUNCATE;
	if (abi >= 5)
		fs |= FS_IOCTL_DEV;
	return fs;
}

/* `required`: a grant must exist; a system directory or node the host lacks is skipped. */
static void allow(int ruleset, const char *path, uint64_t access, uint64_t handled, int required)
{
	int fd = path_open_strict(path);
	if (fd < 0) {
		if (!required && errno == ENOENT)
			return;
		if (!required && errno == ELOOP) {
			/* /bin -> usr/bin: the target is a system directory of its own. */
			return;
		}
		if (errno == ELOOP)
			die_errno("landlock", "granting %s: a component of the path is a symbolic link (grant the path it points to)", path);
		die_errno("landlock", "granting %s", path);
	}
	struct stat st;
	if (fstat(fd, &st) != 0)
		die_errno("landlock", "granting %s", path);
	struct path_beneath_attr rule = {.allowed_access = access & handled, .parent_fd = fd};
	if (!S_ISDIR(st.st_mode))
		rule.allowed_access &= FS_FILE_RIGHTS;
	if (syscall(__NR_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &rule, 0) != 0)
		die_errno("landlock", "landlock_add_rule %s", path);
	close(fd);
}

void landlock_restrict(const struct spec *spec, int abi)
{
	if (abi < 1) {
		errno = EOPNOTSUPP;
		die_errno("landlock", "Landlock is not available in this kernel (needs Linux 5.13 with CONFIG_SECURITY_LANDLOCK and landlock in lsm=)");
	}
	struct ruleset_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.handled_access_fs = handled_fs(abi);
	/* No rule for TCP: with the network denied, every bind and connect is refused (ABI 4). */
	if (abi >= 4 && !spec->net_host)
		attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP;
	if (abi >= 6)
		attr.scoped = SCOPE_ABSTRACT_UNIX | SCOPE_SIGNAL;
	/* The struct grew with the ABI: give the kernel the size it knows. */
	size_t size = abi >= 6 ? sizeof attr : abi >= 4 ? offsetof(struct ruleset_attr, scoped) : sizeof attr.handled_access_fs;
	int ruleset = (int)syscall(__NR_landlock_create_ruleset, &attr, size, 0);
	if (ruleset < 0)
		die_errno("landlock", "landlock_create_ruleset");
	uint64_t all = attr.handled_access_fs;
	for (size_t i = 0; i < sizeof system_dirs / sizeof *system_dirs; i++)
		allow(ruleset, system_dirs[i], FS_READ, all, 0);
	/* /proc: a process reads its own; others' sensitive files stay behind Landlock's ptrace
	 * rule (no access to a process outside the sandbox's domain). */
	allow(ruleset, "/proc", FS_READ_FILE | FS_READ_DIR, all, 0);
	for (size_t i = 0; i < sizeof dev_nodes / sizeof *dev_nodes; i++)
		allow(ruleset, dev_nodes[i], FS_READ_FILE | FS_WRITE_FILE | FS_IOCTL_DEV, all, 0);
	for (size_t i = 0; i < spec->ro.count; i++)
		allow(ruleset, spec->ro.items[i], FS_READ, all, 1);
	for (size_t i = 0; i < spec->rw.count; i++)
		allow(ruleset, spec->rw.items[i], all, all, 1);
	if (spec->workdir)
		allow(ruleset, spec->workdir, all, all, 1);
	if (syscall(__NR_landlock_restrict_self, ruleset, 0) != 0)
		die_errno("landlock", "landlock_restrict_self");
	close(ruleset);
}
