/*
 * Status records and sync messages. Records are formatted into one buffer and written with a
 * single write(2) (at most PIPE_BUF bytes, so atomic on the pipe); a kernel that went away
 * (EPIPE) is not the launcher's problem to report.
 */
#include "status.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void emit(const char *fmt, ...)
{
	char line[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof line - 2)
		n = sizeof line - 2;
	/* One record per line: nothing inside may break the line. */
	for (int i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[n++] = '\n';
	ssize_t w;
	do
		w = write(STATUS_FD, line, (size_t)n);
	while (w < 0 && errno == EINTR);
}

void status_isolation(const struct status_isolation *i)
{
	emit("isolation ns=%s cgroup=%s seccomp=%s userns=%s landlock=%d idmap=%s memory=%s cpu=%s pids=%s", i->ns,
	     i->cgroup, i->seccomp ? "on" : "off", i->userns ? "on" : "off", i->landlock, i->idmap, i->memory, i->cpu,
	     i->pids);
}

void status_usage(uint64_t memory_bytes, uint64_t cpu_us, uint64_t throttled_us, uint64_t nr_throttled, long long tasks, int pids_limit)
{
	emit("usage memory_bytes=%" PRIu64 " cpu_us=%" PRIu64 " throttled_us=%" PRIu64 " nr_throttled=%" PRIu64
	     " tasks=%lld pids_limit=%d",
	     memory_bytes, cpu_us, throttled_us, nr_throttled, tasks, pids_limit);
}

void status_probe(const char *fields)
{
	emit("probe %s", fields);
}

void status_started(pid_t agent, pid_t init, const char *cgroups)
{
	emit("started pid=%d init=%d%s", (int)agent, (int)init, cgroups);
}

void status_ended(const struct status_end *e)
{
	emit("ended code=%d signal=%d oom=%d pids_limit=%d throttled_us=%" PRIu64 " nr_throttled=%" PRIu64
	     " peak_bytes=%" PRIu64 " cpu_us=%" PRIu64 " oom_source=%s",
	     e->code, e->signal, e->oom, e->pids_limit, e->throttled_us, e->nr_throttled, e->peak_bytes,
	     e->cpu_us, e->oom ? (e->oom_source ? e->oom_source : "cgroup") : "none");
}

void status_error(const char *step, int err, const char *msg)
{
	emit("error step=%s errno=%d msg=%s", step, err, msg);
}

int status_msg_send(int fd, enum status_msg_kind kind, int32_t value, const char *step, const char *text)
{
	struct status_msg msg;
	memset(&msg, 0, sizeof msg);
	msg.kind = (char)kind;
	msg.value = value;
	if (step)
		snprintf(msg.step, sizeof msg.step, "%s", step);
	if (text)
		snprintf(msg.text, sizeof msg.text, "%s", text);
	ssize_t n;
	do
		n = send(fd, &msg, sizeof msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof msg ? 0 : -1;
}

int status_msg_recv(int fd, struct status_msg *msg, pid_t *sender, int flags)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = msg, .iov_len = sizeof *msg};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			    .msg_controllen = sizeof control.buf};
	ssize_t n;
	do
		n = recvmsg(fd, &mh, flags | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if (n == 0)
		return 1;
	if ((size_t)n != sizeof *msg) {
		errno = EPROTO;
		return -1;
	}
	msg->step[sizeof msg->step - 1] = '\0';
	msg->text[sizeof msg->text - 1] = '\0';
	if (sender) {
		*sender = 0;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
				struct ucred cred;
				memcpy(&cred, CMSG_DATA(c), sizeof cred);
				*sender = cred.pid;
			}
	}
	return 0;
}
