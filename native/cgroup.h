/*
 * The agent's cgroups: detection of which hierarchy holds memory, cpu, cpuacct and pids (v2,
 * v1, or the hybrid layout where v1 controllers sit beside an empty v2 tree), creation of
 * `agentos/<kernel-id>/<name>` in each, limits, joining, the end-of-run figures and removal.
 * cgroup.c does what both versions share; cgroup1.c and cgroup2.c each fill a cgroup_ops.
 * Nothing outside agentos/ is ever written.
 */
#ifndef AGENTOS_CGROUP_H
#define AGENTOS_CGROUP_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum cgroup_controller {
	CGROUP_MEMORY = 1 << 0,
	CGROUP_CPU = 1 << 1,
	CGROUP_CPUACCT = 1 << 2, /* v1 only: v2 reports usage in cpu.stat */
	CGROUP_PIDS = 1 << 3,
};

/* memory.swap "max". */
#define CGROUP_UNLIMITED (INT64_MAX / 2)

struct cgroup_limits {
	long long memory_max, memory_swap, cpu_quota, cpu_period, pids_max; /* -1: none */
};

struct cgroup_stats {
	int oom, pids_limit;
	uint64_t throttled_us, nr_throttled, peak_bytes, cpu_us;
	int oom_counted;          /* the kernel reports oom_kill (else failcnt is the hint) */
	uint64_t memory_failcnt;
};

struct cgroup_hierarchy;

/* What differs between v1 and v2. */
struct cgroup_ops {
	/* Called for agentos/ and each directory between it and the agent's cgroup; -1 with
	 * ENOENT when a concurrent launch removed `dir` meanwhile (the caller starts over). */
	int (*prepare_parent)(const struct cgroup_hierarchy *h, const char *dir);
	void (*limit)(const struct cgroup_hierarchy *h, const struct cgroup_limits *limits);
	void (*stats)(const struct cgroup_hierarchy *h, struct cgroup_stats *stats);
	/* Kills whatever is left in the cgroup; returns -1 when it cannot be done in one write. */
	int (*kill)(const struct cgroup_hierarchy *h);
};

extern const struct cgroup_ops cgroup1_ops, cgroup2_ops;

struct cgroup_hierarchy {
	const struct cgroup_ops *ops;
	int version;
	unsigned controllers; /* what this launch uses the hierarchy for */
	char root[PATH_MAX];  /* its mount point, or the directory delegated to us in it */
	char dir[PATH_MAX];   /* the agent's cgroup; empty until created */
	int created_from;     /* index in `dir` of the first directory this launch created; 0: none */
};

struct cgroup_set {
	struct cgroup_hierarchy h[5];
	int count;
	unsigned available; /* controllers found */
	const char *layout; /* "v1", "v2", "hybrid" or "none" */
};

/* Finds the hierarchies: at their mount points, or, with `roots` (delegated directories, one per
 * hierarchy), only those, rooted there. With `need_writable`, keeps only the hierarchies we may
 * create cgroups in. */
void cgroup_detect(struct cgroup_set *set, int need_writable, char *const *roots, size_t nroots);
/* Creates `rel` (below agentos/) in every hierarchy and writes the limits (step `cgroup`). */
void cgroup_create(struct cgroup_set *set, const char *rel, const struct cgroup_limits *limits);
/* Moves `pid` into every one of them (step `cgroup`). */
void cgroup_attach(const struct cgroup_set *set, pid_t pid);
void cgroup_read_stats(const struct cgroup_set *set, struct cgroup_stats *stats);
/* Kills every process left, removes the agent's cgroup (when this launch made it) and its
 * empty parents below agentos/; never dies. */
void cgroup_remove(struct cgroup_set *set);
/* ` cgroup.memory=/sys/fs/cgroup/memory/agentos/...` for the `started` record. */
void cgroup_format(const struct cgroup_set *set, char *buf, size_t size);

/* For cgroup1.c and cgroup2.c. */
int cgroup_write(const char *dir, const char *file, const char *value);
/* The number after `key ` in a flat-keyed file, or in a one-number file when key is NULL. */
int cgroup_read_u64(const char *dir, const char *file, const char *key, uint64_t *value);
/* SIGKILLs every pid in dir/cgroup.procs until it reads empty. */
void cgroup_kill_procs(const char *dir);

#endif
