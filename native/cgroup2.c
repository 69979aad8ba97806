/*
 * cgroup v2: one tree. Controllers reach the agent's cgroup only when every ancestor lists
 * them in cgroup.subtree_control; we enable them in agentos/ and below, never in the root
 * (the administrator's). Limits: memory.max, memory.swap.max, cpu.max, pids.max; figures:
 * memory.events, memory.peak, pids.events, cpu.stat; cgroup.kill ends whatever is left.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "die.h"

static int prepare_parent(const struct cgroup_hierarchy *h, const char *dir)
{
	static const struct {
		const char *name;
		unsigned bit;
	} wanted[] = {{"memory", CGROUP_MEMORY}, {"cpu", CGROUP_CPU}, {"pids", CGROUP_PIDS}};
	char enabled[512] = " ", path[PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/cgroup.subtree_control", dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t r = read(fd, enabled + 1, sizeof enabled - 3);
		enabled[r > 0 ? r + 1 : 1] = '\0';
		close(fd);
	}
	for (char *c = enabled; *c; c++)
		if (*c == '\n')
			*c = ' ';
	strcat(enabled, " ");
	for (size_t i = 0; i < sizeof wanted / sizeof *wanted; i++) {
		char word[16], plus[16];
		snprintf(word, sizeof word, " %s ", wanted[i].name);
		if (!(h->controllers & wanted[i].bit) || strstr(enabled, word))
			continue;
		snprintf(plus, sizeof plus, "+%s", wanted[i].name);
		if (cgroup_write(dir, "cgroup.subtree_control", plus) != 0) {
			if (errno == ENOENT)
				return -1;
			die_errno("cgroup", "enabling %s in %s/cgroup.subtree_control", plus, dir);
		}
	}
	return 0;
}

static void put(const struct cgroup_hierarchy *h, const char *file, const char *text)
{
	if (cgroup_write(h->dir, file, text) != 0)
		die_errno("cgroup", "writing %s to %s/%s", text, h->dir, file);
}

static void limit(const struct cgroup_hierarchy *h, const struct cgroup_limits *l)
{
	char text[64];
	if ((h->controllers & CGROUP_MEMORY) && l->memory_max >= 0) {
		snprintf(text, sizeof text, "%lld", l->memory_max);
		put(h, "memory.max", text);
		if (l->memory_swap >= CGROUP_UNLIMITED)
			snprintf(text, sizeof text, "max");
		else
			snprintf(text, sizeof text, "%lld", l->memory_swap);
		/* memory.swap.max is absent without swap accounting: then there is nothing to forbid. */
		if (cgroup_write(h->dir, "memory.swap.max", text) != 0 && errno != ENOENT)
			die_errno("cgroup", "writing %s to %s/memory.swap.max", text, h->dir);
	}
	if ((h->controllers & CGROUP_CPU) && l->cpu_quota >= 0) {
		snprintf(text, sizeof text, "%lld %lld", l->cpu_quota, l->cpu_period);
		put(h, "cpu.max", text);
	}
	if ((h->controllers & CGROUP_PIDS) && l->pids_max >= 0) {
		snprintf(text, sizeof text, "%lld", l->pids_max);
		put(h, "pids.max", text);
	}
}

static void stats(const struct cgroup_hierarchy *h, struct cgroup_stats *s)
{
	uint64_t v;
	if (h->controllers & CGROUP_MEMORY) {
		if (cgroup_read_u64(h->dir, "memory.events", "oom_kill", &v) == 0) {
			s->oom_counted = 1;
			s->oom = v > 0;
		}
		if (cgroup_read_u64(h->dir, "memory.peak", NULL, &v) == 0)
			s->peak_bytes = v;
	}
	if ((h->controllers & CGROUP_PIDS) && cgroup_read_u64(h->dir, "pids.events", "max", &v) == 0)
		s->pids_limit = v > 0;
	/* cpu.stat exists without the cpu controller; throttling figures only with it. */
	if (cgroup_read_u64(h->dir, "cpu.stat", "usage_usec", &v) == 0)
		s->cpu_us = v;
	if (cgroup_read_u64(h->dir, "cpu.stat", "nr_throttled", &v) == 0)
		s->nr_throttled = v;
	if (cgroup_read_u64(h->dir, "cpu.stat", "throttled_usec", &v) == 0)
		s->throttled_us = v;
}

static int kill_all(const struct cgroup_hierarchy *h)
{
	/* cgroup.kill (Linux 5.14) SIGKILLs the whole subtree at once, forks in flight included. */
	return cgroup_write(h->dir, "cgroup.kill", "1");
}

const struct cgroup_ops cgroup2_ops = {prepare_parent, limit, stats, kill_all};
