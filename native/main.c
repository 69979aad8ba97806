/*
 * agentos-launch: starts one agent inside namespaces and cgroups (docs/launcher.md).
 *
 * Three processes. The host launcher reads the spec, decides and reports the isolation,
 * creates the cgroups, clones the sandbox, maps its ids, puts it in the cgroups, releases it,
 * then supervises: it reports `started` once the agent has exec'd, forwards signals, and after
 * the end reports `ended` and removes the cgroups. The sandbox's first process builds the
 * filesystem and becomes PID 1 (init.c); its child is the agent, which hardens itself and execs.
 * The sandbox side never writes fd 5: errors, the agent's pid and its wait status reach the host
 * launcher over a SOCK_SEQPACKET socketpair (the sync socket), which writes every record.
 */
#include "main.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caps.h"
#include "cgroup.h"
#include "die.h"
#include "init.h"
#include "mount.h"
#include "ns.h"
#include "rlimit.h"
#include "seccomp.h"
#include "spec.h"
#include "status.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* What this launch gets, decided once, up front, and reported in `isolation`. */
struct plan {
	unsigned ns;    /* enum spec_ns bits actually created */
	int userns;     /* uid/gid mapped to 0 inside a user namespace */
	int switch_ids; /* root without a user namespace: the agent setresuid()s to uid */
	int cgroups;
	uid_t uid;
	gid_t gid;
};

static struct spec spec;
static struct plan plan;
static struct cgroup_set cgroups;
static pid_t sandbox = -1; /* the cloned process, until reaped */

/* die()'s cleanup on the host side: nothing this launch made may outlive it. */
static void host_cleanup(void)
{
	if (sandbox > 0) {
		kill(sandbox, SIGKILL);
		while (waitpid(sandbox, NULL, 0) < 0 && errno == EINTR)
			;
		sandbox = -1;
	}
	cgroup_remove(&cgroups);
}

/* fds 0-5 must exist: otherwise a socket of ours could land on 3 and reach the agent. */
static void claim_low_fds(void)
{
	for (int fd = 0; fd <= STATUS_FD; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
			int null = open("/dev/null", O_RDWR);
			if (null >= 0 && null != fd) {
				dup2(null, fd);
				close(null);
			}
		}
}

static void decide(void)
{
	plan.ns = spec.ns;
	if (geteuid() == 0) {
		if (!spec.has_uid || !spec.has_gid)
			die("spec", "uid and gid are required when the launcher runs as root");
		if (spec.uid == 0 || spec.gid == 0)
			die("spec", "uid=%u gid=%u: an agent never runs as host root", (unsigned)spec.uid,
			    (unsigned)spec.gid);
		plan.uid = spec.uid;
		plan.gid = spec.gid;
		plan.userns = (plan.ns & SPEC_NS_USER) != 0;
		plan.switch_ids = !plan.userns;
	} else {
		/* Unprivileged: our own ids mapped to 0, which needs a user namespace for any other
		 * namespace; without one, a plain fork/exec. */
		plan.uid = getuid();
		plan.gid = getgid();
		if (plan.ns && ns_userns_available())
			plan.ns |= SPEC_NS_USER;
		else
			plan.ns = 0;
		plan.userns = (plan.ns & SPEC_NS_USER) != 0;
		plan.switch_ids = 0;
	}
	if (spec.cgroup)
		cgroup_detect(&cgroups, geteuid() != 0);
	plan.cgroups = spec.cgroup && cgroups.count > 0;
}

/* Marks every fd from 4 close-on-exec: the execve closes them all at once (what
 * close_range(4, ~0U, 0) would do), while die() can still use the sync socket until then. */
static void close_fds_on_exec(void)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 4U, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	if (errno != ENOSYS && errno != EINVAL)
		die_errno("fds", "close_range(4, ~0U, CLOSE_RANGE_CLOEXEC)");
#endif
	/* Before Linux 5.11: walk /proc/self/fd. */
	DIR *dir = opendir("/proc/self/fd");
	if (!dir)
		die_errno("fds", "opendir /proc/self/fd");
	for (struct dirent *e; (e = readdir(dir));) {
		int fd = atoi(e->d_name);
		if (fd >= 4 && fd != dirfd(dir) && fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)
			die_errno("fds", "FD_CLOEXEC on fd %d", fd);
	}
	closedir(dir);
}

/* Step 8: the agent hardens itself, in this order, and execs. */
static __attribute__((__noreturn__)) void agent_main(int sync_fd)
{
	/* First, so that the host launcher knows our host pid (it rides in SCM_CREDENTIALS). */
	if (status_msg_send(sync_fd, STATUS_MSG_AGENT, 0, NULL, NULL) != 0)
		die_errno("exec", "reporting the agent's pid");
	init_reset_signals();
	/* A new session: no controlling terminal, its own process group for the kernel to kill. */
	if (setsid() < 0)
		die_errno("exec", "setsid");
	if (chdir(spec.cwd) != 0)
		die_errno("exec", "chdir %s", spec.cwd);
	/* rlimits while we may still lower any of them (before the capability drop). */
	rlimit_apply(&spec);
	/* fd 3 is the agent's kernel connection: it must survive the exec. */
	int flags = fcntl(AGENT_FD, F_GETFD);
	if (flags >= 0 && (flags & FD_CLOEXEC) && fcntl(AGENT_FD, F_SETFD, flags & ~FD_CLOEXEC) != 0)
		die_errno("fds", "clearing FD_CLOEXEC on fd 3");
	close_fds_on_exec();
	/* no_new_privs before seccomp (required for an unprivileged filter) and so no setuid
	 * binary can undo the capability drop. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		die_errno("caps", "PR_SET_NO_NEW_PRIVS");
	caps_drop(plan.switch_ids, plan.uid, plan.gid);
	/* Seccomp last: the steps above need mount-free but otherwise denied-nothing syscalls,
	 * and the filter applies to execve's new program from its first instruction. */
	if (spec.seccomp)
		seccomp_install();
	execve(spec.argv.items[0], spec.argv.items, spec.env.items);
	die_errno("exec", "execve %s", spec.argv.items[0]);
}

/* Steps 5-7, in the cloned process. */
static __attribute__((__noreturn__)) void sandbox_main(int sync_fd, int exec_fd)
{
	die_report_to_parent(sync_fd);
	/* The status fd never reaches the agent; only the host launcher writes records. */
	close(STATUS_FD);
	/* If the host launcher dies, so does the sandbox (and with PID 1, all of it). */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	struct status_msg msg;
	int rc = status_msg_recv(sync_fd, &msg, NULL, 0);
	if (rc != 0 || msg.kind != STATUS_MSG_GO)
		_exit(127); /* the host launcher is gone: nobody to report to */
	if (plan.userns)
		ns_become_root();
	/* The credential change cleared the parent-death signal: set it again, then check that
	 * the parent did not die in between (its end of the sync socket would be closed). */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	struct pollfd p = {.fd = sync_fd, .events = POLLIN};
	if (poll(&p, 1, 0) > 0 && (p.revents & POLLHUP))
		_exit(127);

	if (plan.ns & SPEC_NS_MOUNT)
		mount_setup_root(&spec, (plan.ns & SPEC_NS_PID) != 0);
	if (plan.ns & SPEC_NS_UTS)
		ns_set_hostname(spec.hostname);
	if (plan.ns & SPEC_NS_NET)
		ns_lo_up();

	if (!(plan.ns & SPEC_NS_PID))
		agent_main(sync_fd);
	/* We are PID 1: fork the agent, then only forward, reap and report. */
	int signal_fd = init_prepare();
	pid_t agent = fork();
	if (agent < 0)
		die_errno("clone", "fork of the agent");
	if (agent == 0) {
		close(signal_fd);
		agent_main(sync_fd);
	}
	/* Only the agent's copy of the exec pipe may keep it open: its exec closes it. */
	close(exec_fd);
	close(AGENT_FD);
	init_run(signal_fd, agent, sync_fd);
}

/* What the host launcher knows about the sandbox while it runs. */
struct watch {
	int sync_fd, exec_fd;
	pid_t agent;    /* host pid, once the agent reported */
	int started;    /* `started` written */
	int agent_done; /* init reported the agent's wait status */
	int agent_status;
};

static void on_message(struct watch *w, const struct status_msg *m, pid_t sender)
{
	switch (m->kind) {
	case STATUS_MSG_ERROR: {
		/* A sandbox-side step failed: its record, after our cleanup. */
		host_cleanup();
		char step[sizeof m->step];
		snprintf(step, sizeof step, "%s", m->step);
		status_error(step, m->value, m->text);
		_exit(127);
	}
	case STATUS_MSG_AGENT:
		w->agent = sender;
		break;
	case STATUS_MSG_EXIT:
		w->agent_done = 1;
		w->agent_status = m->value;
		break;
	default:
		break;
	}
}

static void drain_sync(struct watch *w)
{
	while (w->sync_fd >= 0) {
		struct status_msg m;
		pid_t sender;
		int rc = status_msg_recv(w->sync_fd, &m, &sender, MSG_DONTWAIT);
		if (rc < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (rc != 0) {
			close(w->sync_fd);
			w->sync_fd = -1;
			return;
		}
		on_message(w, &m, sender);
	}
}

/* The exec pipe reads EOF once the agent exec'd (or everything that held it is gone). */
static void check_exec(struct watch *w)
{
	char c;
	ssize_t n = read(w->exec_fd, &c, 1);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	close(w->exec_fd);
	w->exec_fd = -1;
	/* An error sent before the agent's exit is queued before this EOF: look for it first. */
	drain_sync(w);
	if (w->agent > 0 && !w->started) {
		char paths[4 * PATH_MAX];
		cgroup_format(&cgroups, paths, sizeof paths);
		status_started(w->agent, (plan.ns & SPEC_NS_PID) ? sandbox : 0, plan.cgroups ? paths : "");
		w->started = 1;
	}
}

/* Waits for the sandbox's end, forwarding signals; returns its wait status. */
static int supervise(struct watch *w, int signal_fd, struct rusage *usage)
{
	int timer_fd = -1;
	for (;;) {
		struct pollfd p[4];
		int n = 0, i_sync = -1, i_exec = -1, i_timer = -1;
		if (w->sync_fd >= 0)
			p[i_sync = n++] = (struct pollfd){.fd = w->sync_fd, .events = POLLIN};
		if (w->exec_fd >= 0)
			p[i_exec = n++] = (struct pollfd){.fd = w->exec_fd, .events = POLLIN};
		if (timer_fd >= 0)
			p[i_timer = n++] = (struct pollfd){.fd = timer_fd, .events = POLLIN};
		int i_sig = n;
		p[n++] = (struct pollfd){.fd = signal_fd, .events = POLLIN};
		if (poll(p, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			die_errno("clone", "poll");
		}
		/* Messages and the exec EOF before signals: `started` precedes `ended`. */
		if (i_sync >= 0 && p[i_sync].revents)
			drain_sync(w);
		if (i_exec >= 0 && p[i_exec].revents && w->exec_fd >= 0)
			check_exec(w);
		if (i_timer >= 0 && p[i_timer].revents) {
			/* kill_timeout_ms after a SIGTERM: the whole namespace goes (PID 1 first). */
			uint64_t ticks;
			ssize_t r = read(timer_fd, &ticks, sizeof ticks);
			(void)r;
			kill(sandbox, SIGKILL);
			/* Without a PID namespace the agent's children are only reachable via its cgroup. */
			if (!(plan.ns & SPEC_NS_PID) && plan.cgroups)
				for (int i = 0; i < cgroups.count; i++)
					cgroup_kill_procs(cgroups.h[i].dir);
			close(timer_fd);
			timer_fd = -2; /* fired: never armed again */
		}
		if (!p[i_sig].revents)
			continue;
		struct signalfd_siginfo si;
		while (read(signal_fd, &si, sizeof si) == (ssize_t)sizeof si) {
			if (si.ssi_signo != SIGCHLD) {
				/* Before the agent runs there is nothing to stop gracefully. */
				kill(sandbox, w->started ? (int)si.ssi_signo : SIGKILL);
				/* Only SIGTERM means "stop": SIGHUP may just ask the agent to reload. */
				if (si.ssi_signo == SIGTERM && timer_fd == -1 && w->started) {
					timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
					struct itimerspec t = {{0, 0},
							       {spec.kill_timeout_ms / 1000, (spec.kill_timeout_ms % 1000) * 1000000L}};
					if (t.it_value.tv_sec == 0 && t.it_value.tv_nsec == 0)
						t.it_value.tv_nsec = 1;
					if (timer_fd >= 0)
						timerfd_settime(timer_fd, 0, &t, NULL);
				}
				continue;
			}
			int status;
			pid_t pid = wait4(sandbox, &status, WNOHANG, usage);
			if (pid == sandbox) {
				sandbox = -1;
				if (timer_fd >= 0)
					close(timer_fd);
				return status;
			}
		}
	}
}

static void describe(int status, char *buf, size_t size)
{
	if (WIFSIGNALED(status))
		snprintf(buf, size, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, size, "exit code %d", WEXITSTATUS(status));
}

int main(void)
{
	claim_low_fds();
	/* The host launcher takes its signals from a signalfd. Blocked from the start, none is
	 * lost during setup; the clone inherits the mask, which init relies on too. */
	sigset_t signals;
	sigemptyset(&signals);
	sigaddset(&signals, SIGCHLD);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGHUP);
	sigprocmask(SIG_BLOCK, &signals, NULL);
	signal(SIGPIPE, SIG_IGN); /* a kernel that closed fd 5 is not fatal to the agent */
	die_report_to_status(host_cleanup);

	/* 1. The spec, then the isolation this machine gives, decided once and reported first. */
	spec_read(&spec);
	close(SPEC_FD);
	decide();
	char ns_names[64];
	spec_ns_format(plan.ns, ns_names, sizeof ns_names);
	status_isolation(ns_names, plan.cgroups ? cgroups.layout : "none", spec.seccomp, plan.userns);

	/* 2. Cgroups before the clone, so the limits hold from the sandbox's first instruction. */
	if (plan.cgroups) {
		struct cgroup_limits limits = {spec.memory_max, spec.memory_swap, spec.cpu_quota, spec.cpu_period,
					       spec.pids_max};
		cgroup_create(&cgroups, spec.cgroup, &limits);
	}

	int sync[2], exec_pipe[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sync) != 0)
		die_errno("clone", "socketpair");
	int on = 1;
	/* The agent's host pid arrives as the sender's credentials, translated by the kernel. */
	if (setsockopt(sync[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0)
		die_errno("clone", "SO_PASSCRED");
	if (pipe2(exec_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		die_errno("clone", "pipe2");
	int signal_fd = signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
	if (signal_fd < 0)
		die_errno("clone", "signalfd");
	/* Host root's supplementary groups would follow the sandbox in, and with setgroups
	 * denied it could never drop them: drop them here, where it is still allowed. */
	if (geteuid() == 0 && setgroups(0, NULL) != 0)
		die_errno("userns", "setgroups(0)");

	/* 3. The clone. The sandbox waits on the sync socket until released. */
	pid_t pid = ns_clone(plan.ns);
	if (pid == 0) {
		close(sync[0]);
		close(exec_pipe[0]);
		close(signal_fd);
		sandbox_main(sync[1], exec_pipe[1]);
	}
	sandbox = pid;
	close(sync[1]);
	close(exec_pipe[1]);
	close(AGENT_FD); /* the agent's connection is the agent's: its EOF must mean its end */

	/* 4. Ids mapped and cgroups joined while the sandbox waits: nothing of the agent runs
	 * outside its identity or its limits. */
	if (plan.userns)
		ns_write_idmaps(pid, plan.uid, plan.gid);
	if (plan.cgroups)
		cgroup_attach(&cgroups, pid);
	if (status_msg_send(sync[0], STATUS_MSG_GO, 0, NULL, NULL) != 0)
		die_errno("clone", "releasing the sandbox");

	struct watch w = {.sync_fd = sync[0], .exec_fd = exec_pipe[0]};
	struct rusage usage;
	memset(&usage, 0, sizeof usage);
	int status = supervise(&w, signal_fd, &usage);

	/* The sandbox is gone (with PID 1, every process of it): collect what it said last. */
	drain_sync(&w);
	if (w.exec_fd >= 0)
		check_exec(&w);
	if (!w.started) {
		char how[64];
		describe(status, how, sizeof how);
		errno = ECHILD;
		die_errno("clone", "the sandbox ended (%s) before the agent started", how);
	}
	/* init's report when it made one; else the sandbox's own end (no PID namespace: it was the
	 * agent; with one: init was killed, taking the agent with it). */
	int agent_status = w.agent_done ? w.agent_status : status;
	struct status_end end;
	memset(&end, 0, sizeof end);
	end.code = WIFEXITED(agent_status) ? WEXITSTATUS(agent_status) : 0;
	end.signal = WIFSIGNALED(agent_status) ? WTERMSIG(agent_status) : 0;
	if (plan.cgroups) {
		struct cgroup_stats s;
		cgroup_read_stats(&cgroups, &s);
		/* Before oom_kill was counted (v1, Linux < 4.13): hitting the limit and dying of
		 * SIGKILL is the OOM killer's signature. */
		end.oom = s.oom || (!s.oom_counted && s.memory_failcnt > 0 && end.signal == SIGKILL);
		end.pids_limit = s.pids_limit;
		end.throttled_us = s.throttled_us;
		end.nr_throttled = s.nr_throttled;
		end.peak_bytes = s.peak_bytes;
		end.cpu_us = s.cpu_us;
	} else {
		/* Without cgroups: rusage of the sandbox and everything it waited for. */
		end.cpu_us = (uint64_t)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000u +
			     (uint64_t)(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
		end.peak_bytes = (uint64_t)usage.ru_maxrss * 1024u;
	}
	status_ended(&end);
	cgroup_remove(&cgroups);
	return 0;
}
