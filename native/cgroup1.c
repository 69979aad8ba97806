/*
 * cgroup v1: one hierarchy per controller (or a few co-mounted). Limits go to
 * memory.limit_in_bytes (+ memory.memsw.limit_in_bytes for swap), cpu.cfs_period_us /
 * cpu.cfs_quota_us and pids.max; figures come from memory.oom_control, memory.failcnt,
 * memory.max_usage_in_bytes, pids.events, cpu.stat and cpuacct.usage.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "cgroup.h"
#include "die.h"

static int prepare_parent(const struct cgroup_hierarchy *h, const char *dir)
{
	/* v1 has no subtree_control: every directory of the hierarchy has every controller. */
	(void)h;
	(void)dir;
	return 0;
}

static void put(const struct cgroup_hierarchy *h, const char *file, long long value)
{
	char text[32];
	snprintf(text, sizeof text, "%lld", value);
	if (cgroup_write(h->dir, file, text) != 0)
		die_errno("cgroup", "writing %s to %s/%s", text, h->dir, file);
}

static void limit(const struct cgroup_hierarchy *h, const struct cgroup_limits *l)
{
	if ((h->controllers & CGROUP_MEMORY) && l->memory_max >= 0) {
		/* memsw (memory + swap) may never be below the memory limit: memory first. */
		put(h, "memory.limit_in_bytes", l->memory_max);
		long long memsw = l->memory_swap >= CGROUP_UNLIMITED ? -1 : l->memory_max + l->memory_swap;
		char memsw_file[PATH_MAX + 32];
		snprintf(memsw_file, sizeof memsw_file, "%s/memory.memsw.limit_in_bytes", h->dir);
		if (access(memsw_file, F_OK) != 0) {
			/* No swap accounting (swapaccount=0): keep the cgroup out of swap instead. */
			if (l->memory_swap == 0)
				put(h, "memory.swappiness", 0);
		} else {
			put(h, "memory.memsw.limit_in_bytes", memsw);
		}
	}
	if ((h->controllers & CGROUP_CPU) && l->cpu_quota >= 0) {
		/* The period first: a quota is checked against the current period. */
		put(h, "cpu.cfs_period_us", l->cpu_period);
		put(h, "cpu.cfs_quota_us", l->cpu_quota);
	}
	if ((h->controllers & CGROUP_PIDS) && l->pids_max >= 0)
		put(h, "pids.max", l->pids_max);
}

static void stats(const struct cgroup_hierarchy *h, struct cgroup_stats *s)
{
	uint64_t v;
	if (h->controllers & CGROUP_MEMORY) {
		/* oom_kill in memory.oom_control since Linux 4.13; failcnt is the older hint. */
		if (cgroup_read_u64(h->dir, "memory.oom_control", "oom_kill", &v) == 0) {
			s->oom_counted = 1;
			s->oom = v > 0;
		}
		if (cgroup_read_u64(h->dir, "memory.failcnt", NULL, &v) == 0)
			s->memory_failcnt = v;
		if (cgroup_read_u64(h->dir, "memory.max_usage_in_bytes", NULL, &v) == 0)
			s->peak_bytes = v;
	}
	if ((h->controllers & CGROUP_PIDS) && cgroup_read_u64(h->dir, "pids.events", "max", &v) == 0)
		s->pids_limit = v > 0;
	if (h->controllers & CGROUP_CPU) {
		if (cgroup_read_u64(h->dir, "cpu.stat", "nr_throttled", &v) == 0)
			s->nr_throttled = v;
		if (cgroup_read_u64(h->dir, "cpu.stat", "throttled_time", &v) == 0)
			s->throttled_us = v / 1000;
	}
	if ((h->controllers & CGROUP_CPUACCT) && cgroup_read_u64(h->dir, "cpuacct.usage", NULL, &v) == 0)
		s->cpu_us = v / 1000;
}

static int kill_all(const struct cgroup_hierarchy *h)
{
	(void)h;
	return -1; /* no cgroup.kill in v1: the caller walks cgroup.procs */
}

const struct cgroup_ops cgroup1_ops = {prepare_parent, limit, stats, kill_all};
