/*
 * Resource limits. Applied in the agent just before exec; inside a user namespace a hard limit
 * can only be lowered, so asking for more than the launcher has fails with EPERM, reported.
 */
#include "rlimit.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "die.h"

void rlimit_apply(const struct spec *spec)
{
	for (int i = 0; i < SPEC_RLIMITS; i++) {
		const struct spec_rlimit *r = &spec->rlimits[i];
		if (r->set && setrlimit((__rlimit_resource_t)r->resource, &r->value) != 0)
			die_errno("rlimit", "setrlimit(%s, %llu %llu)", r->name, (unsigned long long)r->value.rlim_cur,
				  (unsigned long long)r->value.rlim_max);
	}
}

void rlimit_set(int resource, const char *name, rlim_t value)
{
	struct rlimit r = {value, value};
	if (setrlimit((__rlimit_resource_t)resource, &r) != 0)
		die_errno("rlimit", "setrlimit(%s, %llu)", name, (unsigned long long)value);
}

long long rlimit_tasks_of(uid_t uid)
{
	DIR *proc = opendir("/proc");
	if (!proc)
		return 0;
	long long tasks = 0;
	for (struct dirent *e; (e = readdir(proc));) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		char path[300], buf[4096];
		snprintf(path, sizeof path, "/proc/%.255s/status", e->d_name);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[n] = '\0';
		const char *u = strstr(buf, "\nUid:"), *t = strstr(buf, "\nThreads:");
		if (u && t && strtoul(u + 5, NULL, 10) == (unsigned long)uid)
			tasks += strtoll(t + 9, NULL, 10);
	}
	closedir(proc);
	return tasks;
}
