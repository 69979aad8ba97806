/*
 * die(): the one way a setup step fails. See die.h for where the record goes.
 */
#include "die.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "status.h"

static void (*host_cleanup)(void);
static int parent_sync_fd = -1;
static int dying;

void die_report_to_status(void (*cleanup)(void))
{
	host_cleanup = cleanup;
	parent_sync_fd = -1;
}

void die_report_to_parent(int sync_fd)
{
	/* The host's cleanup (its cgroups, its child) is not ours to run from inside. */
	host_cleanup = NULL;
	parent_sync_fd = sync_fd;
}

static __attribute__((__noreturn__)) void finish(const char *step, int err, int append_strerror, const char *fmt, va_list ap)
{
	char msg[480];
	int n = vsnprintf(msg, sizeof msg, fmt, ap);
	if (n < 0)
		n = 0;
	if (append_strerror && (size_t)n < sizeof msg)
		snprintf(msg + n, sizeof msg - (size_t)n, ": %s", strerror(err));
	if (parent_sync_fd >= 0) {
		status_msg_send(parent_sync_fd, STATUS_MSG_ERROR, err, step, msg);
	} else {
		/* A failure inside the cleanup must not loop back into it. */
		if (host_cleanup && !dying) {
			dying = 1;
			host_cleanup();
		}
		status_error(step, err, msg);
	}
	_exit(127);
}

void die(const char *step, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	/* No call failed; the input did: EINVAL, and the message says what was wrong. */
	finish(step, EINVAL, 0, fmt, ap);
}

void die_errno(const char *step, const char *fmt, ...)
{
	int err = errno;
	va_list ap;
	va_start(ap, fmt);
	finish(step, err, 1, fmt, ap);
}
