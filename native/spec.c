/*
 * Spec parsing. Every record is checked against the table below; an unknown key, a bad
 * number, a relative path or a scalar given twice is an error, so a typo never silently
 * drops a limit. Lists (argv env ro rw tmpfs) append.
 */
#include "spec.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "die.h"

#define SPEC_MAX_BYTES (4u << 20)

static const char *const ns_names[] = {"pid", "mount", "net", "uts", "ipc", "user"};

static char *read_all(int fd, size_t *len)
{
	size_t cap = 16384, n = 0;
	char *buf = malloc(cap);
	if (!buf)
		die_errno("spec", "reading the spec");
	for (;;) {
		if (n == cap) {
			if (cap >= SPEC_MAX_BYTES) {
				errno = E2BIG;
				die_errno("spec", "the spec is larger than %u bytes", SPEC_MAX_BYTES);
			}
			cap *= 2;
			char *grown = realloc(buf, cap);
			if (!grown)
				die_errno("spec", "reading the spec");
			buf = grown;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die_errno("spec", "read(fd %d)", fd);
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*len = n;
	return buf;
}

static void push(struct spec_list *list, char *item)
{
	char **grown = realloc(list->items, (list->count + 2) * sizeof *grown);
	if (!grown)
		die_errno("spec", "growing a list");
	list->items = grown;
	list->items[list->count++] = item;
	list->items[list->count] = NULL; /* argv and env go straight to execve */
}

/* A decimal number in [0, max]; "max" (unlimited) when `unlimited` is given. */
static long long number(const char *key, const char *text, long long max, long long unlimited)
{
	if (unlimited != 0 && (strcmp(text, "max") == 0 || strcmp(text, "unlimited") == 0))
		return unlimited;
	if (*text < '0' || *text > '9')
		die("spec", "%s=%s: not a number", key, text);
	errno = 0;
	char *end;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno || *end || v > (unsigned long long)max)
		die("spec", "%s=%s: not a number in 0..%lld", key, text, max);
	return (long long)v;
}

/* Absolute, no `.`/`..`/empty components, not `/` itself; trailing slashes dropped. */
static char *path(const char *key, char *value)
{
	if (value[0] != '/')
		die("spec", "%s=%s: not an absolute path", key, value);
	size_t len = strlen(value);
	while (len > 1 && value[len - 1] == '/')
		value[--len] = '\0';
	if (len == 1) {
		/* Granting or hiding the whole host root would undo the sandbox. */
		if (strcmp(key, "cwd") == 0)
			return value;
		die("spec", "%s=/: the host root cannot be granted", key);
	}
	if (len >= PATH_MAX)
		die("spec", "%s: path longer than %d bytes", key, PATH_MAX);
	for (const char *c = value + 1;;) {
		const char *slash = strchr(c, '/');
		size_t n = slash ? (size_t)(slash - c) : strlen(c);
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			die("spec", "%s=%s: `.`, `..` and empty components are not allowed", key, value);
		if (!slash)
			break;
		c = slash + 1;
	}
	return value;
}

/* `agentos/<kernel-id>/<name>`: the launcher never creates a cgroup outside agentos/. */
static char *cgroup_path(char *value)
{
	if (strncmp(value, "agentos/", 8) != 0 || value[8] == '\0')
		die("spec", "cgroup=%s: must be below agentos/", value);
	char scratch[PATH_MAX + 2];
	if (strlen(value) >= PATH_MAX)
		die("spec", "cgroup: path too long");
	scratch[0] = '/';
	strcpy(scratch + 1, value);
	path("cgroup", scratch);
	if (strlen(scratch + 1) != strlen(value))
		die("spec", "cgroup=%s: trailing slash", value);
	return value;
}

static void scalar(const char **slot, const char *key, const char *value)
{
	if (*slot)
		die("spec", "%s given twice", key);
	*slot = value;
}

static void once(long long *slot, const char *key, long long value)
{
	if (*slot != -1)
		die("spec", "%s given twice", key);
	*slot = value;
}

static unsigned parse_ns(char *value)
{
	if (strcmp(value, "none") == 0)
		return 0;
	unsigned ns = 0;
	for (char *save = NULL, *name = strtok_r(value, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		size_t i = 0;
		while (i < sizeof ns_names / sizeof *ns_names && strcmp(name, ns_names[i]) != 0)
			i++;
		if (i == sizeof ns_names / sizeof *ns_names)
			die("spec", "ns: unknown namespace `%s` (pid mount net uts ipc user, or none)", name);
		ns |= 1u << i;
	}
	if (ns == 0)
		die("spec", "ns: empty (say `none`)");
	return ns;
}

static void parse_rlimit(struct spec *spec, const char *key, const char *name, char *value)
{
	for (int i = 0; i < SPEC_RLIMITS; i++) {
		struct spec_rlimit *r = &spec->rlimits[i];
		if (strcmp(r->name, name) != 0)
			continue;
		if (r->set)
			die("spec", "%s given twice", key);
		char *space = strchr(value, ' ');
		if (space)
			*space = '\0';
		const long long inf = (long long)INT64_MAX;
		long long soft = number(key, value, inf - 1, inf);
		long long hard = space ? number(key, space + 1, inf - 1, inf) : soft;
		if (soft > hard)
			die("spec", "%s: soft limit above the hard limit", key);
		r->set = true;
		r->value.rlim_cur = soft == inf ? RLIM_INFINITY : (rlim_t)soft;
		r->value.rlim_max = hard == inf ? RLIM_INFINITY : (rlim_t)hard;
		return;
	}
	die("spec", "unknown key `%s` (rlimit.NAME: nofile nproc core fsize stack as cpu memlock data)", key);
}

void spec_read(struct spec *spec)
{
	static const struct spec_rlimit rlimits[SPEC_RLIMITS] = {
	    {"nofile", RLIMIT_NOFILE, false, {0, 0}}, {"nproc", RLIMIT_NPROC, false, {0, 0}},
	    {"core", RLIMIT_CORE, false, {0, 0}},     {"fsize", RLIMIT_FSIZE, false, {0, 0}},
	    {"stack", RLIMIT_STACK, false, {0, 0}},   {"as", RLIMIT_AS, false, {0, 0}},
	    {"cpu", RLIMIT_CPU, false, {0, 0}},       {"memlock", RLIMIT_MEMLOCK, false, {0, 0}},
	    {"data", RLIMIT_DATA, false, {0, 0}},
	};
	memset(spec, 0, sizeof *spec);
	memcpy(spec->rlimits, rlimits, sizeof rlimits);
	spec->memory_max = spec->memory_swap = spec->cpu_quota = spec->cpu_period = spec->pids_max = -1;
	spec->tmp_size = spec->kill_timeout_ms = -1;
	long long uid = -1, gid = -1;
	const char *ns = NULL, *net = NULL, *seccomp = NULL, *cpu = NULL, *landlock = NULL;

	size_t len;
	char *buf = read_all(SPEC_FD, &len);
	if (len > 0 && buf[len - 1] != '\0')
		die("spec", "the last record is not NUL-terminated");
	for (size_t at = 0; at < len;) {
		char *key = buf + at;
		at += strlen(key) + 1;
		char *value = strchr(key, '=');
		if (!value || value == key)
			die("spec", "record `%.64s` is not key=value", key);
		*value++ = '\0';

		if (strcmp(key, "argv") == 0)
			push(&spec->argv, value);
		else if (strcmp(key, "env") == 0) {
			if (!strchr(value, '=') || value[0] == '=')
				die("spec", "env=%.64s: not NAME=value", value);
			push(&spec->env, value);
		} else if (strcmp(key, "cwd") == 0)
			scalar(&spec->cwd, key, path(key, value));
		else if (strcmp(key, "hostname") == 0) {
			if (value[0] == '\0' || strlen(value) > 64)
				die("spec", "hostname=%.80s: 1 to 64 bytes", value);
			scalar(&spec->hostname, key, value);
		} else if (strcmp(key, "uid") == 0)
			once(&uid, key, number(key, value, UINT32_MAX - 1, 0));
		else if (strcmp(key, "gid") == 0)
			once(&gid, key, number(key, value, UINT32_MAX - 1, 0));
		else if (strcmp(key, "cgroup") == 0)
			scalar(&spec->cgroup, key, cgroup_path(value));
		else if (strcmp(key, "memory.max") == 0)
			once(&spec->memory_max, key, number(key, value, CGROUP_UNLIMITED - 1, 0));
		else if (strcmp(key, "memory.swap") == 0)
			once(&spec->memory_swap, key, number(key, value, CGROUP_UNLIMITED - 1, CGROUP_UNLIMITED));
		else if (strcmp(key, "cpu.max") == 0)
			scalar(&cpu, key, value);
		else if (strcmp(key, "pids.max") == 0)
			once(&spec->pids_max, key, number(key, value, INT32_MAX, 0));
		else if (strcmp(key, "ns") == 0)
			scalar(&ns, key, value);
		else if (strcmp(key, "ro") == 0)
			push(&spec->ro, path(key, value));
		else if (strcmp(key, "rw") == 0)
			push(&spec->rw, path(key, value));
		else if (strcmp(key, "workdir") == 0)
			scalar(&spec->workdir, key, path(key, value));
		else if (strcmp(key, "workdir.at") == 0)
			scalar(&spec->workdir_at, key, path(key, value));
		else if (strcmp(key, "cgroup.root") == 0)
			push(&spec->cgroup_roots, path(key, value));
		else if (strcmp(key, "landlock") == 0)
			scalar(&landlock, key, value);
		else if (strcmp(key, "tmpfs") == 0)
			push(&spec->tmpfs, path(key, value));
		else if (strcmp(key, "tmp.size") == 0)
			once(&spec->tmp_size, key, number(key, value, CGROUP_UNLIMITED - 1, 0));
		else if (strcmp(key, "net") == 0)
			scalar(&net, key, value);
		else if (strcmp(key, "seccomp") == 0)
			scalar(&seccomp, key, value);
		else if (strncmp(key, "rlimit.", 7) == 0)
			parse_rlimit(spec, key, key + 7, value);
		else if (strcmp(key, "kill_timeout_ms") == 0)
			once(&spec->kill_timeout_ms, key, number(key, value, 86400000, 0));
		else
			die("spec", "unknown key `%.64s`", key);
	}

	if (spec->argv.count == 0)
		die("spec", "argv is required");
	if (spec->argv.items[0][0] != '/')
		die("spec", "argv[0]=%.200s: the program must be an absolute path", spec->argv.items[0]);
	if (!spec->env.items && !(spec->env.items = calloc(1, sizeof *spec->env.items)))
		die_errno("spec", "allocating the environment");
	spec->has_uid = uid >= 0;
	spec->has_gid = gid >= 0;
	spec->uid = (uid_t)(uid >= 0 ? uid : 0);
	spec->gid = (gid_t)(gid >= 0 ? gid : 0);

	if (cpu) {
		char *space = strchr(cpu, ' ');
		if (!space)
			die("spec", "cpu.max=%s: QUOTA PERIOD in microseconds", cpu);
		*space = '\0';
		spec->cpu_quota = number("cpu.max", cpu, 1000000000, 0);
		spec->cpu_period = number("cpu.max", space + 1, 1000000, 0);
		/* The kernel's own bounds (both hierarchies): period 1ms..1s, quota at least 1ms. */
		if (spec->cpu_quota < 1000 || spec->cpu_period < 1000)
			die("spec", "cpu.max: quota and period are at least 1000 us");
	}
	if (spec->memory_swap >= 0 && spec->memory_max < 0)
		die("spec", "memory.swap needs memory.max");
	if (spec->memory_max >= 0 && spec->memory_swap < 0)
		spec->memory_swap = 0;
	if (spec->pids_max == 0)
		die("spec", "pids.max=0 would not let the agent start");

	spec->ns = ns ? parse_ns((char *)ns) : (unsigned)SPEC_NS_ALL;
	if (net && strcmp(net, "none") != 0 && strcmp(net, "host") != 0)
		die("spec", "net=%s: none or host", net);
	spec->net_host = net && strcmp(net, "host") == 0;
	/* A host network means no network namespace, whatever `ns` listed. */
	if (spec->net_host)
		spec->ns &= ~(unsigned)SPEC_NS_NET;
	if (seccomp && strcmp(seccomp, "default") != 0 && strcmp(seccomp, "off") != 0)
		die("spec", "seccomp=%s: default or off", seccomp);
	spec->seccomp = !seccomp || strcmp(seccomp, "default") == 0;
	if (landlock && strcmp(landlock, "on") != 0 && strcmp(landlock, "off") != 0)
		die("spec", "landlock=%s: on or off", landlock);
	spec->landlock = landlock && strcmp(landlock, "on") == 0;
	/* Landlock rules name host paths: it stands in for a mount namespace, never beside one. */
	if (spec->landlock && (spec->ns & SPEC_NS_MOUNT))
		die("spec", "landlock=on replaces the mount namespace: give ns without `mount`");
	if (spec->workdir_at && !spec->workdir)
		die("spec", "workdir.at needs workdir");
	if (spec->workdir_at && !(spec->ns & SPEC_NS_MOUNT))
		die("spec", "workdir.at needs a mount namespace (ns with `mount`)");
	if (spec->cgroup_roots.count && !spec->cgroup)
		die("spec", "cgroup.root needs cgroup");
	if (!spec->hostname)
		spec->hostname = "agent";
	if (spec->tmp_size < 0)
		spec->tmp_size = 64ll << 20;
	if (spec->kill_timeout_ms < 0)
		spec->kill_timeout_ms = 5000;
	/* core=0 unless asked: a crashing agent must not write core files into its workdir. */
	if (!spec->rlimits[2].set) {
		spec->rlimits[2].set = true;
		spec->rlimits[2].value.rlim_cur = spec->rlimits[2].value.rlim_max = 0;
	}
	if (!spec->cwd)
		spec->cwd = spec->workdir_at ? spec->workdir_at : spec->workdir ? spec->workdir : "/";
}

void spec_ns_format(unsigned ns, char *buf, size_t size)
{
	size_t n = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof ns_names / sizeof *ns_names; i++) {
		if (!(ns & (1u << i)))
			continue;
		size_t need = strlen(ns_names[i]) + (n ? 1 : 0);
		if (n + need + 1 > size)
			break;
		if (n)
			buf[n++] = ',';
		strcpy(buf + n, ns_names[i]);
		n += strlen(ns_names[i]);
	}
	if (n == 0)
		snprintf(buf, size, "none");
}
