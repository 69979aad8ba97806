/*
 * The namespace's init. Signals stay blocked and are read from a signalfd, so forwarding and
 * reaping happen in one plain loop with no handler races; the no-op handler only exists so
 * that the kernel queues SIGTERM/SIGINT/SIGHUP for a PID-namespace init at all.
 */
#include "init.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "die.h"
#include "status.h"

static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP};

static void ignore(int sig)
{
	(void)sig;
}

int init_prepare(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = ignore;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++) {
		sigaddset(&set, forwarded[i]);
		if (sigaction(forwarded[i], &sa, NULL) != 0)
			die_errno("clone", "sigaction in init");
	}
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		die_errno("clone", "sigprocmask in init");
	int fd = signalfd(-1, &set, SFD_CLOEXEC);
	if (fd < 0)
		die_errno("clone", "signalfd in init");
	return fd;
}

void init_run(int signal_fd, pid_t agent, int report_fd)
{
	for (;;) {
		struct signalfd_siginfo si;
		ssize_t n = read(signal_fd, &si, sizeof si);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof si)
			_exit(127); /* cannot happen; exiting still ends the namespace */
		if (si.ssi_signo != SIGCHLD) {
			kill(agent, (int)si.ssi_signo);
			continue;
		}
		/* Orphans of the agent are reparented to us: reap them all, not just the agent. */
		for (;;) {
			int status;
			pid_t pid = waitpid(-1, &status, WNOHANG);
			if (pid <= 0)
				break;
			if (pid == agent) {
				status_msg_send(report_fd, STATUS_MSG_EXIT, status, NULL, NULL);
				_exit(0);
			}
		}
	}
}

void init_reset_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++)
		sigaction(forwarded[i], &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}
