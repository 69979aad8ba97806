/*
 * The launcher's status records on fd 5 (docs/launcher.md): `isolation`, `started`, `ended`,
 * `error`, one `\n`-terminated line each, written with one write(2) so a reader never sees half
 * a record. Also the sync messages the sandbox side sends the host launcher (the go signal, the
 * agent's pid, its wait status, a relayed error): one SOCK_SEQPACKET message each.
 */
#ifndef AGENTOS_STATUS_H
#define AGENTOS_STATUS_H

#include <stdint.h>
#include <sys/types.h>

#define STATUS_FD 5

/* What the agent's end looked like, from wait status and cgroup figures. */
struct status_end {
	int code, signal, oom, pids_limit;
	const char *oom_source; /* "cgroup", "watchdog"; NULL without an OOM kill */
	uint64_t throttled_us, nr_throttled, peak_bytes, cpu_us;
};

/* What this launch gets, decided up front: the namespaces, the cgroup layout, and for each
 * property the mechanism that holds it (docs/launcher.md `isolation`). */
struct status_isolation {
	const char *ns, *cgroup, *idmap, *memory, *cpu, *pids;
	int seccomp, userns, landlock;
};

void status_isolation(const struct status_isolation *isolation);
/* Live figures of a sandbox without cgroups, about once a second. */
void status_usage(uint64_t memory_bytes, uint64_t cpu_us, uint64_t throttled_us, uint64_t nr_throttled, long long tasks, int pids_limit);
/* `agentos-launch --probe`: what this machine lets this user do. */
void status_probe(const char *fields);
/* `cgroups` is a preformatted ` cgroup.memory=/sys/...` list (may be empty). */
void status_started(pid_t agent, pid_t init, const char *cgroups);
void status_ended(const struct status_end *end);
void status_error(const char *step, int err, const char *msg);

/* Sync messages between the host launcher and the sandbox side. */
enum status_msg_kind {
	STATUS_MSG_GO = 'G',     /* host → sandbox: ids mapped, cgroups joined: carry on */
	STATUS_MSG_AGENT = 'A',  /* agent → host, before exec: its host pid rides in SCM_CREDENTIALS */
	STATUS_MSG_EXIT = 'X',   /* init → host: the agent's wait status in `value` */
	STATUS_MSG_ERROR = 'E',  /* sandbox → host: a setup step failed */
};

struct status_msg {
	char kind;
	int32_t value; /* wait status or errno */
	char step[16];
	char text[480];
};

/* Sends one message; returns 0 or -1 with errno. */
int status_msg_send(int fd, enum status_msg_kind kind, int32_t value, const char *step, const char *text);
/* Receives one message and its sender's pid as seen here (SO_PASSCRED); 0, or -1 with errno,
 * or 1 at EOF (every sandbox-side copy of the socket closed). */
int status_msg_recv(int fd, struct status_msg *msg, pid_t *sender, int flags);

#endif
