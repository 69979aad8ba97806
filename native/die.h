/*
 * The launcher's one fatal path. A setup step that fails calls die() or die_errno(): the
 * failure becomes one `error step=... errno=... msg=...` status record and the process exits
 * 127. On the host side the record goes to the status fd after the registered cleanup has
 * killed the sandbox and removed its cgroups; inside the sandbox (init, agent) it is relayed to
 * the host launcher over the sync socket, which writes it, so only one process ever writes fd 5.
 */
#ifndef AGENTOS_DIE_H
#define AGENTOS_DIE_H

/* Host side: records go to the status fd; `cleanup` (may be NULL) runs first. */
void die_report_to_status(void (*cleanup)(void));

/* Sandbox side (after clone): records travel to the host launcher over `sync_fd`. */
void die_report_to_parent(int sync_fd);

/* A failure that is not a call's: a validation or protocol error, reported as EINVAL. */
void die(const char *step, const char *fmt, ...) __attribute__((__noreturn__, __format__(__printf__, 2, 3)));

/* A failed call: reports `errno` and appends its text to the message. */
void die_errno(const char *step, const char *fmt, ...) __attribute__((__noreturn__, __format__(__printf__, 2, 3)));

#endif
