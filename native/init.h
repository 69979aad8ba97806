/*
 * PID 1 of the agent's PID namespace: forwards SIGTERM/SIGINT/SIGHUP to the agent, reaps
 * every zombie, and when the agent ends reports its wait status to the host launcher and
 * exits, which makes the kernel SIGKILL everything left in the namespace.
 */
#ifndef AGENTOS_INIT_H
#define AGENTOS_INIT_H

#include <sys/types.h>

/* Before forking the agent: catch the forwarded signals (a namespace's init never receives a
 * signal it has no handler for) and open the signalfd; returns it. Step `clone`. */
int init_prepare(void);

/* The init loop; `report_fd` is the sync socket to the host launcher. */
__attribute__((__noreturn__)) void init_run(int signal_fd, pid_t agent, int report_fd);

/* In the agent, before exec: default dispositions and an empty signal mask again. */
void init_reset_signals(void);

#endif
