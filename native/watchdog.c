/*
 * The launcher's own limit keeping. Cheap when idle: each tick reads only the CPU clock of the
 * processes it already knows (one clock_gettime each, ns precision, all threads); a sandbox
 * that used no CPU since the last tick cannot have forked or allocated, so the tree is walked
 * and memory read again only after CPU was used (and at least once a second); near its memory
 * limit, every 2 ms while it grows. Memory is the
 * sum of each process's resident set (statm), and, once that passes half the limit, of its
 * proportional set with swap (smaps_rollup Pss + SwapPss), which counts shared pages once.
 */
#include "watchdog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "die.h"
#include "rlimit.h"
#include "status.h"

#define TICK_MS 100
/* A sandbox that used no CPU since the last look is looked at less and less often, up to
 * every MAX_IDLE_TICK_MS: it cannot have allocated or forked meanwhile, and every wakeup of
 * every launcher costs (on a VM, ~15 µs of CPU and a timer exit each). Once it runs, every
 * TICK_MS again. A burst after a long idle spell is seen within MAX_IDLE_TICK_MS; a single
 * process cannot get past RLIMIT_DATA (1.1x the limit) meanwhile. */
#define MAX_IDLE_TICK_MS 800
/* Past this share of its memory limit a sandbox that is still growing is looked at every
 * FAST_TICK_MS (a fast allocator, GiB/s, must not get far past its limit between two looks);
 * "still growing" is a new high-water mark within GROWING_FOR_MS. One that stays there without
 * growing, every NEAR_TICK_MS (looks near the limit read Pss, which walks page tables: tens of
 * µs): never less often, idle or not. */
#define NEAR_LIMIT_PERCENT 70
#define FAST_TICK_MS 2
#define NEAR_TICK_MS 25
#define GROWING_FOR_MS 250
#define SCAN_EVERY_MS 5000
#define USAGE_EVERY_MS 1000
/* A stop never lasts longer than this, however far over its share a burst went. */
#define MAX_STOP_NS (10ull * 1000000000ull)

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

int watchdog_needed(const struct watchdog_limits *l)
{
	return l->memory_max >= 0 || l->cpu_quota >= 0 || l->tasks_max >= 0;
}

static ssize_t read_at(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

struct pidlist {
	pid_t *pids;
	size_t n, cap;
};

static void push(struct pidlist *l, pid_t pid)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		pid_t *grown = realloc(l->pids, cap * sizeof *grown);
		if (!grown)
			return; /* under memory pressure a tick sees less; the next one tries again */
		l->pids = grown;
		l->cap = cap;
	}
	l->pids[l->n++] = pid;
}

/* Children of every thread of `pid` (a fork from any thread lists under that thread). */
static void children_of(pid_t pid, struct pidlist *out)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
	DIR *dir = opendir(path);
	if (!dir)
		return;
	for (struct dirent *e; (e = readdir(dir));) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		char file[320], buf[8192];
		snprintf(file, sizeof file, "/proc/%d/task/%.255s/children", (int)pid, e->d_name);
		if (read_at(file, buf, sizeof buf) <= 0)
			continue;
		for (char *p = buf, *end; *p; p = end) {
			long child = strtol(p, &end, 10);
			if (end == p)
				break;
			push(out, (pid_t)child);
		}
	}
	closedir(dir);
}

size_t watchdog_tree(pid_t root, int root_is_self, pid_t **out)
{
	struct pidlist l = {0};
	if (!root_is_self)
		push(&l, root);
	else
		children_of(root, &l);
	/* Breadth first; a pid can appear once only (each process has one parent). */
	for (size_t i = 0; i < l.n && l.n < 1u << 20; i++)
		children_of(l.pids[i], &l);
	*out = l.pids;
	return l.n;
}

void watchdog_kill_tree(pid_t root, int root_is_self)
{
	pid_t *pids;
	size_t n = watchdog_tree(root, root_is_self, &pids);
	for (size_t i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
	free(pids);
}

/* Resident bytes of one process: statm's RSS, or Pss + SwapPss when `precise`. */
static uint64_t memory_of(pid_t pid, int precise)
{
	char path[64], buf[4096];
	long page = sysconf(_SC_PAGESIZE);
	if (!precise) {
		snprintf(path, sizeof path, "/proc/%d/statm", (int)pid);
		unsigned long long size, resident;
		if (read_at(path, buf, sizeof buf) <= 0 || sscanf(buf, "%llu %llu", &size, &resident) != 2)
			return 0;
		return (uint64_t)resident * (uint64_t)page;
	}
	snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
	if (read_at(path, buf, sizeof buf) <= 0)
		return 0;
	uint64_t kb = 0;
	for (char *line = buf; line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		unsigned long long v;
		if (sscanf(line, "Pss: %llu kB", &v) == 1 || sscanf(line, "SwapPss: %llu kB", &v) == 1)
			kb += v;
	}
	return kb * 1024u;
}

/* Tasks (threads) of one process: field 20 of /proc/<pid>/stat. */
static long long tasks_of(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (read_at(path, buf, sizeof buf) <= 0)
		return 0;
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	long long threads = 0;
	/* After ") ": state(3) ppid(4) … num_threads(20). */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %lld", &threads) != 1)
		return 0;
	return threads;
}

static int cpu_of(struct watchdog_proc *p, uint64_t *ns)
{
	struct timespec t;
	if (clock_gettime(p->clock, &t) != 0)
		return -1;
	*ns = (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
	return 0;
}

static void arm(struct watchdog *w, uint64_t in_ns)
{
	if (in_ns == 0)
		in_ns = 1;
	struct itimerspec t = {{0, 0}, {(time_t)(in_ns / 1000000000ull), (long)(in_ns % 1000000000ull)}};
	timerfd_settime(w->fd, 0, &t, NULL);
}

/* The next multiple of `period_ms` on the monotonic clock: every launcher's looks fall on the
 * same instants, so one timer interrupt wakes them all instead of one each. */
static void arm_aligned(struct watchdog *w, uint64_t period_ms)
{
	uint64_t period = period_ms * 1000000ull, next = (now_ns() / period + 1) * period;
	struct itimerspec t = {{0, 0}, {(time_t)(next / 1000000000ull), (long)(next % 1000000000ull)}};
	timerfd_settime(w->fd, TFD_TIMER_ABSTIME, &t, NULL);
}

int watchdog_start(struct watchdog *w, const struct watchdog_limits *limits, pid_t root, int root_is_self)
{
	memset(w, 0, sizeof *w);
	w->limits = *limits;
	w->root = root;
	w->root_is_self = root_is_self;
	w->fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (w->fd < 0)
		die_errno("clone", "timerfd for the watchdog");
	w->window_start_ns = w->last_tick_ns = now_ns();
	w->idle_tick_ms = TICK_MS;
	arm_aligned(w, TICK_MS);
	return w->fd;
}

/* Walks the tree again: CPU since the last look is credited to the window (new processes with
 * all of theirs), memory and tasks are summed. */
static void scan(struct watchdog *w, uint64_t *cpu_delta)
{
	pid_t *pids;
	size_t n = watchdog_tree(w->root, w->root_is_self, &pids);
	struct watchdog_proc *procs = calloc(n ? n : 1, sizeof *procs);
	if (!procs) {
		free(pids);
		return;
	}
	size_t kept = 0;
	uint64_t rss = 0;
	long long tasks = 0;
	for (size_t i = 0; i < n; i++) {
		struct watchdog_proc *p = &procs[kept];
		p->pid = pids[i];
		if (clock_getcpuclockid(p->pid, &p->clock) != 0 || cpu_of(p, &p->cpu_ns) != 0)
			continue; /* gone meanwhile */
		uint64_t before = 0;
		for (size_t j = 0; j < w->count; j++)
			if (w->procs[j].pid == p->pid) {
				before = w->procs[j].cpu_ns;
				break;
			}
		if (p->cpu_ns > before)
			*cpu_delta += p->cpu_ns - before;
		if (w->limits.memory_max >= 0)
			rss += memory_of(p->pid, 0);
		if (w->limits.tasks_max >= 0)
			tasks += tasks_of(p->pid);
		kept++;
	}
	free(pids);
	if (tasks != w->tasks || kept != w->count)
		w->changed = 1;
	free(w->procs);
	w->procs = procs;
	w->count = kept;
	w->enumerated = 1;
	w->since_scan_ms = 0;
	w->tasks = tasks;
	if (w->limits.tasks_max >= 0 && w->limits.host_uid < 0 && tasks >= w->limits.tasks_max)
		w->tasks_hit = 1;
	/* Host-wide (no user namespace): the limit is reached when the uid's tasks are, wherever
	 * they are; counted (a walk of /proc) only when the sandbox's own have grown. */
	if (w->limits.tasks_max >= 0 && w->limits.host_uid >= 0 && !w->tasks_hit && tasks > w->tasks_seen) {
		w->tasks_seen = tasks;
		if (rlimit_tasks_of((uid_t)w->limits.host_uid) >= w->limits.tasks_max - 1)
			w->tasks_hit = 1;
	}
	if (w->limits.memory_max >= 0) {
		uint64_t memory = rss;
		/* RSS counts a page shared with other processes (the runtime's own binary, mapped by
		 * the kernel's Node too) in full: near the limit, the proportional share decides. */
		if (rss > (uint64_t)w->limits.memory_max / 2) {
			memory = 0;
			for (size_t i = 0; i < w->count; i++)
				memory += memory_of(w->procs[i].pid, 1);
		}
		if (memory != w->memory_bytes)
			w->changed = 1;
		w->memory_bytes = memory;
		if (memory > w->peak_bytes)
			w->peak_bytes = memory;
	}
}

static void signal_tree(struct watchdog *w, int sig)
{
	pid_t *pids;
	size_t n = watchdog_tree(w->root, w->root_is_self, &pids);
	for (size_t i = 0; i < n; i++)
		/* The namespace's init is ours and idle: it keeps reaping. */
		if (w->root_is_self || pids[i] != w->root)
			kill(pids[i], sig);
	free(pids);
}

void watchdog_resume(struct watchdog *w)
{
	if (!w->stopped)
		return;
	signal_tree(w, SIGCONT);
	uint64_t now = now_ns();
	w->throttled_us += (now - w->stop_started_ns) / 1000u;
	w->stopped = 0;
	w->window_start_ns = now;
	w->window_cpu_ns = 0;
	arm_aligned(w, TICK_MS);
}

int watchdog_tick(struct watchdog *w, int report)
{
	uint64_t ticks;
	ssize_t r = read(w->fd, &ticks, sizeof ticks);
	(void)r;
	uint64_t now = now_ns();
	if (w->stopped) {
		if (now >= w->stop_until_ns) {
			watchdog_resume(w);
		} else {
			arm(w, w->stop_until_ns - now);
		}
		return 0;
	}
	uint64_t elapsed_ms = (now - w->last_tick_ns) / 1000000ull;
	w->last_tick_ns = now;
	w->since_scan_ms += elapsed_ms;
	w->since_usage_ms += elapsed_ms;
	uint64_t cpu_delta = 0;
	int near = w->limits.memory_max >= 0 &&
		   w->memory_bytes * 100u > (uint64_t)w->limits.memory_max * NEAR_LIMIT_PERCENT;
	int active = !w->enumerated || near || w->since_scan_ms >= SCAN_EVERY_MS;
	/* Growing = past its high-water mark: a hog sets a new one at every look, a steady agent
	 * near its limit (a collector's ups and downs) does not. */
	uint64_t peak_before = w->peak_bytes;
	for (size_t i = 0; i < w->count && !active; i++) {
		uint64_t ns;
		if (cpu_of(&w->procs[i], &ns) != 0 || ns != w->procs[i].cpu_ns)
			active = 1;
	}
	if (active)
		scan(w, &cpu_delta);
	w->cpu_total_ns += cpu_delta;
	w->window_cpu_ns += cpu_delta;
	if (cpu_delta > 0)
		w->changed = 1;
	/* The first once the agent runs, then about once a second while something changed (an idle
	 * sandbox costs the kernel nothing). */
	if (report && (!w->reported || (w->since_usage_ms >= USAGE_EVERY_MS && w->changed))) {
		w->reported = 1;
		w->changed = 0;
		w->since_usage_ms = 0;
		status_usage(w->memory_bytes, w->cpu_total_ns / 1000u, w->throttled_us, w->nr_throttled, w->tasks, w->tasks_hit);
	}
	if (w->limits.memory_max >= 0 && w->memory_bytes > (uint64_t)w->limits.memory_max) {
		w->oom = 1;
		return 1;
	}
	if (w->limits.cpu_quota >= 0) {
		/* Its share f = quota/period: having used u over a window of length t, it stops for
		 * u/f - t, so that over run and stop it had exactly f. */
		uint64_t window = now - w->window_start_ns;
		uint64_t allowed = window * (uint64_t)w->limits.cpu_quota / (uint64_t)w->limits.cpu_period;
		if (w->window_cpu_ns > allowed) {
			uint64_t stop = w->window_cpu_ns * (uint64_t)w->limits.cpu_period / (uint64_t)w->limits.cpu_quota - window;
			if (stop > MAX_STOP_NS)
				stop = MAX_STOP_NS;
			signal_tree(w, SIGSTOP);
			w->stopped = 1;
			/* Counted as cgroup cpu.stat counts them: periods spent throttled. */
			uint64_t period_ns = (uint64_t)w->limits.cpu_period * 1000u;
			w->nr_throttled += (stop + period_ns - 1) / period_ns;
			w->stop_started_ns = now;
			w->stop_until_ns = now + stop;
			arm(w, stop);
			return 0;
		}
		if (window >= TICK_MS * 1000000ull) {
			w->window_start_ns = now;
			w->window_cpu_ns = 0;
		}
	}
	near = w->limits.memory_max >= 0 && w->memory_bytes * 100u > (uint64_t)w->limits.memory_max * NEAR_LIMIT_PERCENT;
	if (w->memory_bytes > peak_before)
		w->grew_ns = now;
	/* An allocator that pauses between allocations (a timer's) still grows: "growing" lasts. */
	int growing = w->grew_ns != 0 && now - w->grew_ns < GROWING_FOR_MS * 1000000ull;
	if (cpu_delta > 0 || !w->reported)
		w->idle_tick_ms = TICK_MS;
	else if (w->idle_tick_ms < MAX_IDLE_TICK_MS)
		w->idle_tick_ms *= 2;
	arm_aligned(w, near ? (growing ? FAST_TICK_MS : NEAR_TICK_MS) : w->idle_tick_ms);
	return 0;
}
