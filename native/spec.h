/*
 * The launch spec read from fd 4 (docs/launcher.md): NUL-terminated `key=value` records.
 * spec_read() validates everything up front (step `spec`, EINVAL) so that no later step meets
 * a malformed value; strings point into the one buffer read from the fd.
 */
#ifndef AGENTOS_SPEC_H
#define AGENTOS_SPEC_H

#include <stdbool.h>
#include <sys/resource.h>
#include <sys/types.h>

#define SPEC_FD 4

enum spec_ns {
	SPEC_NS_PID = 1 << 0,
	SPEC_NS_MOUNT = 1 << 1,
	SPEC_NS_NET = 1 << 2,
	SPEC_NS_UTS = 1 << 3,
	SPEC_NS_IPC = 1 << 4,
	SPEC_NS_USER = 1 << 5,
	SPEC_NS_ALL = (1 << 6) - 1,
};

enum { SPEC_RLIMITS = 9 };

struct spec_list {
	char **items;
	size_t count;
};

struct spec_rlimit {
	const char *name;
	int resource;
	bool set;
	struct rlimit value;
};

struct spec {
	struct spec_list argv, env, ro, rw, tmpfs;
	/* Delegated cgroup parents (absolute directories inside a cgroup mount), one per hierarchy. */
	struct spec_list cgroup_roots;
	const char *cwd, *hostname, *cgroup, *workdir;
	/* Where the workdir appears inside (a mount namespace's view); NULL: at its host path. */
	const char *workdir_at;
	bool has_uid, has_gid;
	uid_t uid;
	gid_t gid;
	/* -1: not set. */
	long long memory_max, memory_swap, cpu_quota, cpu_period, pids_max;
	unsigned ns; /* enum spec_ns bits */
	long long tmp_size;
	bool net_host, seccomp;
	/* Landlock instead of a mount namespace (ns without `mount`): situation C. */
	bool landlock;
	struct spec_rlimit rlimits[SPEC_RLIMITS];
	long long kill_timeout_ms;
};

/* Reads fd 4 to EOF and parses it; dies with step `spec` on any problem. */
void spec_read(struct spec *spec);

/* "pid,mount,..." for the `isolation` record; "none" when empty. */
void spec_ns_format(unsigned ns, char *buf, size_t size);

#endif
