/*
 * Limits held by the launcher itself where no cgroup holds them (docs/launcher.md "Limits
 * without a cgroup"): a memory watchdog that sums the resident memory (Pss near the limit) of
 * every process of the sandbox and reports when it is past its limit; a CPU duty cycle that
 * stops the sandbox (SIGSTOP) long enough to keep it near its share and counts its throttled
 * time; the count of its tasks against a process limit held by RLIMIT_NPROC. The sandbox is
 * every descendant of its root process: the namespace's init (a PID namespace reparents every
 * orphan to it), or the launcher itself, a child subreaper, when there is no PID namespace.
 */
#ifndef AGENTOS_WATCHDOG_H
#define AGENTOS_WATCHDOG_H

#include <stdint.h>
#include <sys/types.h>

struct watchdog_limits {
	long long memory_max;            /* bytes; -1: not the watchdog's */
	long long cpu_quota, cpu_period; /* µs; -1: not the watchdog's */
	long long tasks_max;             /* tasks at which the process limit counts as hit; -1: none */
	/* The limit counts every task of this uid on the host (RLIMIT_NPROC without a user
	 * namespace): tasks_max is then the rlimit, compared with the uid's count. -1: not so. */
	long long host_uid;
};

struct watchdog_proc {
	pid_t pid;
	clockid_t clock;
	uint64_t cpu_ns;
};

struct watchdog {
	struct watchdog_limits limits;
	pid_t root;
	int root_is_self; /* the launcher: count its descendants, not itself */
	int fd;           /* timerfd */
	struct watchdog_proc *procs;
	size_t count, cap;
	int enumerated;
	int reported; /* a `usage` record was written */
	int changed;  /* since the last one */
	uint64_t idle_tick_ms; /* the next look's distance while idle */
	uint64_t grew_ns;      /* when memory last passed its high-water mark */
	uint64_t last_tick_ns, since_scan_ms, since_usage_ms;
	/* CPU duty cycle */
	int stopped;
	uint64_t window_start_ns, window_cpu_ns, stop_until_ns, stop_started_ns;
	/* what it saw */
	uint64_t memory_bytes, peak_bytes, cpu_total_ns, throttled_us, nr_throttled;
	long long tasks, tasks_seen;
	int tasks_hit, oom;
};

/* Whether `limits` need the watchdog at all. */
int watchdog_needed(const struct watchdog_limits *limits);

/* Starts watching the descendants of `root` (and `root` itself unless `root_is_self`); returns
 * the timerfd to poll. Step `clone` on failure. */
int watchdog_start(struct watchdog *w, const struct watchdog_limits *limits, pid_t root, int root_is_self);

/* On the timerfd: measures, throttles; returns 1 when the memory limit is exceeded (the caller
 * kills the sandbox), 0 otherwise. `report`: write a `usage` record when one is due. */
int watchdog_tick(struct watchdog *w, int report);

/* Lets a stopped sandbox run again (a signal is being forwarded, or it is ending). */
void watchdog_resume(struct watchdog *w);

/* Every descendant of `root` (and `root` unless `root_is_self`), into *out (malloc'd, caller
 * frees); returns the count. Zombies included. */
size_t watchdog_tree(pid_t root, int root_is_self, pid_t **out);

/* SIGKILLs every process of the tree once. */
void watchdog_kill_tree(pid_t root, int root_is_self);

#endif
