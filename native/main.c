/*
 * agentos-launch: starts one agent inside namespaces and cgroups (docs/launcher.md).
 *
 * Three processes. The host launcher reads the spec, decides and reports the isolation,
 * creates the cgroups, clones the sandbox, maps its ids, puts it in the cgroups, releases it,
 * then supervises: it reports `started` once the agent has exec'd, forwards signals, holds the
 * limits no cgroup holds (watchdog.c), and after the end reports `ended` and removes the
 * cgroups. The sandbox's first process builds the filesystem and becomes PID 1 (init.c); its
 * child is the agent, which hardens itself and execs. Without a PID namespace the sandbox's
 * process is the agent itself, and the host launcher, a child subreaper, inherits its orphans.
 * The sandbox side never writes fd 5: errors, the agent's pid and its wait status reach the host
 * launcher over a SOCK_SEQPACKET socketpair (the sync socket), which writes every record.
 *
 * `agentos-launch --probe` instead reports on stdout what this user may do here (a `probe`
 * record): the kernel asks once at start and decides each agent's isolation from it.
 */
#include "main.h"

#include <dirent.h>
#include <ftw.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caps.h"
#include "cgroup.h"
#include "die.h"
#include "init.h"
#include "landlock.h"
#include "mount.h"
#include "ns.h"
#include "path.h"
#include "rlimit.h"
#include "seccomp.h"
#include "spec.h"
#include "status.h"
#include "watchdog.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* Which mechanism holds a limit. */
enum via { VIA_NONE, VIA_CGROUP, VIA_LAUNCHER };

/* What this launch gets, decided once, up front, and reported in `isolation`. */
struct plan {
	unsigned ns;    /* enum spec_ns bits actually created */
	int userns;     /* uid/gid mapped to 0 inside a user namespace */
	int switch_ids; /* root without a user namespace: the agent setresuid()s to uid */
	int subids;     /* unprivileged, with ids of the user's subordinate range (newuidmap) */
	int own_workdir; /* the sandbox must take ownership of its workdir (subids) */
	int cgroups;
	int landlock;   /* the Landlock ABI in use; 0: none */
	enum via memory, cpu, pids;
	long long nproc; /* RLIMIT_NPROC for the process limit without a cgroup */
	uid_t uid;
	gid_t gid;
};

static struct spec spec;
static struct plan plan;
static struct cgroup_set cgroups;
static pid_t sandbox = -1; /* the cloned process, until reaped */

/* Without a PID namespace the sandbox's orphans are ours (a child subreaper): once the agent
 * is gone, end and reap every one of them, as a namespace's end would. */
static void end_orphans(void)
{
	if (plan.ns & SPEC_NS_PID)
		return;
	for (int round = 0; round < 1000; round++) {
		pid_t *pids;
		size_t n = watchdog_tree(getpid(), 1, &pids);
		for (size_t i = 0; i < n; i++)
			kill(pids[i], SIGKILL);
		free(pids);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (n == 0)
			return;
		struct timespec t = {0, 1000000};
		nanosleep(&t, NULL);
	}
}

/* die()'s cleanup on the host side: nothing this launch made may outlive it. */
static void host_cleanup(void)
{
	if (sandbox > 0) {
		kill(sandbox, SIGKILL);
		while (waitpid(sandbox, NULL, 0) < 0 && errno == EINTR)
			;
		sandbox = -1;
	}
	end_orphans();
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
	int root = geteuid() == 0;
	if (spec.has_uid != spec.has_gid)
		die("spec", "uid and gid go together");
	if (root) {
		if (!spec.has_uid)
			die("spec", "uid and gid are required when the launcher runs as root");
		if (spec.uid == 0 || spec.gid == 0)
			die("spec", "uid=%u gid=%u: an agent never runs as host root", (unsigned)spec.uid,
			    (unsigned)spec.gid);
		plan.uid = spec.uid;
		plan.gid = spec.gid;
		plan.userns = (plan.ns & SPEC_NS_USER) != 0;
		plan.switch_ids = !plan.userns;
	} else {
		/* Unprivileged: a user namespace carries every other namespace, mapping our own ids to
		 * 0, or ids of our /etc/subuid range (uid= given) through newuidmap. Never a silent
		 * fallback: if the kernel cannot make one, the clone fails and says so (the kernel asks
		 * for Landlock, ns=none landlock=on, where user namespaces are not allowed). */
		plan.subids = spec.has_uid;
		plan.uid = spec.has_uid ? spec.uid : getuid();
		plan.gid = spec.has_gid ? spec.gid : getgid();
		if (plan.subids && !plan.ns)
			die("spec", "uid=%u without root needs a user namespace (ns=none given)", (unsigned)spec.uid);
		if (plan.ns)
			plan.ns |= SPEC_NS_USER;
		plan.userns = (plan.ns & SPEC_NS_USER) != 0;
		plan.switch_ids = 0;
	}
	if (spec.landlock) {
		plan.landlock = landlock_abi();
		if (plan.landlock < 1) {
			errno = EOPNOTSUPP;
			die_errno("landlock", "landlock=on, but this kernel has no Landlock (Linux 5.13+, enabled in lsm=)");
		}
	}
	if (spec.cgroup)
		cgroup_detect(&cgroups, !root, spec.cgroup_roots.items, spec.cgroup_roots.count);
	plan.cgroups = spec.cgroup && cgroups.count > 0;
	/* Each limit by its controller where a hierarchy of ours offers it, else by the launcher. */
	unsigned have = plan.cgroups ? cgroups.available : 0;
	plan.memory = spec.memory_max < 0 ? VIA_NONE : (have & CGROUP_MEMORY) ? VIA_CGROUP : VIA_LAUNCHER;
	plan.cpu = spec.cpu_quota < 0 ? VIA_NONE : (have & CGROUP_CPU) ? VIA_CGROUP : VIA_LAUNCHER;
	plan.pids = spec.pids_max < 0 ? VIA_NONE : (have & CGROUP_PIDS) ? VIA_CGROUP : VIA_LAUNCHER;
	if (plan.pids == VIA_LAUNCHER) {
		/* RLIMIT_NPROC counts the tasks of the agent's uid in its user namespace, init
		 * included (Linux 5.14+); without one, every task of the uid on the host, so the
		 * agent gets what it asked for beyond what the uid already runs. */
		plan.nproc = plan.userns ? spec.pids_max + 1 : rlimit_tasks_of(plan.uid) + spec.pids_max;
	}
	if (plan.subids && spec.workdir) {
		struct stat st;
		plan.own_workdir = stat(spec.workdir, &st) == 0 && st.st_uid != plan.uid;
	}
}

static const char *via_name(enum via via, const char *launcher)
{
	return via == VIA_NONE ? "none" : via == VIA_CGROUP ? "cgroup" : launcher;
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
	if (plan.pids == VIA_LAUNCHER)
		rlimit_set(RLIMIT_NPROC, "nproc", (rlim_t)plan.nproc);
	if (plan.cpu == VIA_LAUNCHER) {
		/* The duty cycle keeps its share; SCHED_IDLE makes sure that even between stops it
		 * only gets what nothing else wants. Sticky: RLIMIT_NICE 0 forbids leaving it. */
		rlimit_set(RLIMIT_NICE, "nice", 0);
		struct sched_param none = {0};
		if (sched_setscheduler(0, SCHED_IDLE, &none) != 0)
			die_errno("rlimit", "sched_setscheduler(SCHED_IDLE)");
	}
	if (plan.memory == VIA_LAUNCHER) {
		/* Under host memory pressure the agent goes first (it may lower this to 0, not below). */
		int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t w = write(fd, "1000", 4);
			(void)w;
			close(fd);
		}
	}
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
	/* Landlock after no_new_privs (it requires it) and as the agent's own uid. */
	if (spec.landlock)
		landlock_restrict(&spec, plan.landlock);
	/* Seccomp last: the steps above need mount-free but otherwise denied-nothing syscalls,
	 * and the filter applies to execve's new program from its first instruction. */
	if (spec.seccomp) {
		struct seccomp_policy policy = {
		    .inet = spec.net_host,
		    /* A mount namespace hides every host socket path; Landlock does not (ABI < 9). */
		    .unix_socket = !spec.landlock,
		    .deny_uncounted_memory = plan.memory == VIA_LAUNCHER,
		    .deny_host_objects = spec.landlock,
		};
		seccomp_install(&policy);
	}
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
	/* Still the launcher's own user (fsuid), which can walk the kernel's private state
	 * directory: open every bind source now, without following symlinks. */
	struct mount_sources *sources = (plan.ns & SPEC_NS_MOUNT) ? mount_open_sources(&spec) : NULL;
	if (plan.own_workdir) {
		/* Its first incarnation with a uid of its own: the workdir the kernel made becomes the
		 * agent's (our own id is mapped as 1 for this, and nothing runs as it). */
		int fd = path_open_strict(spec.workdir);
		if (fd < 0 || fchownat(fd, "", 0, 0, AT_EMPTY_PATH) != 0)
			die_errno("mount", "giving the workdir %s to the agent's uid %u", spec.workdir, (unsigned)plan.uid);
		close(fd);
	}
	if (plan.userns)
		ns_become_root();
	/* Our supplementary groups are host groups: with setgroups allowed (newgidmap leaves it
	 * so), drop them; where it is denied they were dropped before the clone (root) or are
	 * the user's own. */
	if (plan.subids && setgroups(0, NULL) != 0 && errno != EPERM)
		die_errno("userns", "setgroups(0)");
	/* The credential change cleared the parent-death signal: set it again, then check that
	 * the parent did not die in between (its end of the sync socket would be closed). */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	struct pollfd p = {.fd = sync_fd, .events = POLLIN};
	if (poll(&p, 1, 0) > 0 && (p.revents & POLLHUP))
		_exit(127);

	if (sources)
		mount_setup_root(&spec, sources, (plan.ns & SPEC_NS_PID) != 0);
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
	struct watchdog dog;
	int watching;   /* the watchdog holds a limit */
	int oom;        /* the watchdog ended the sandbox for its memory */
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

/* SIGKILL to all of the sandbox, now: its init takes a PID namespace down with it; without
 * one, every process of the tree and of its cgroups. */
static void kill_sandbox(void)
{
	kill(sandbox, SIGKILL);
	if (plan.ns & SPEC_NS_PID)
		return;
	watchdog_kill_tree(getpid(), 1);
	if (plan.cgroups)
		for (int i = 0; i < cgroups.count; i++)
			cgroup_kill_procs(cgroups.h[i].dir);
}

/* Waits for the sandbox's end, forwarding signals and keeping the watchdog's limits; returns
 * its wait status. */
static int supervise(struct watch *w, int signal_fd)
{
	int timer_fd = -1;
	for (;;) {
		struct pollfd p[5];
		int n = 0, i_sync = -1, i_exec = -1, i_timer = -1, i_dog = -1;
		if (w->sync_fd >= 0)
			p[i_sync = n++] = (struct pollfd){.fd = w->sync_fd, .events = POLLIN};
		if (w->exec_fd >= 0)
			p[i_exec = n++] = (struct pollfd){.fd = w->exec_fd, .events = POLLIN};
		if (timer_fd >= 0)
			p[i_timer = n++] = (struct pollfd){.fd = timer_fd, .events = POLLIN};
		if (w->watching)
			p[i_dog = n++] = (struct pollfd){.fd = w->dog.fd, .events = POLLIN};
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
		if (i_dog >= 0 && p[i_dog].revents && watchdog_tick(&w->dog, w->started)) {
			/* Past its memory limit: the whole sandbox goes, as a cgroup's OOM kill would. */
			w->oom = 1;
			watchdog_resume(&w->dog);
			kill_sandbox();
		}
		if (i_timer >= 0 && p[i_timer].revents) {
			/* kill_timeout_ms after a SIGTERM: the whole sandbox goes (PID 1 first). */
			uint64_t ticks;
			ssize_t r = read(timer_fd, &ticks, sizeof ticks);
			(void)r;
			kill_sandbox();
			close(timer_fd);
			timer_fd = -2; /* fired: never armed again */
		}
		if (!p[i_sig].revents)
			continue;
		struct signalfd_siginfo si;
		while (read(signal_fd, &si, sizeof si) == (ssize_t)sizeof si) {
			if (si.ssi_signo != SIGCHLD) {
				/* A stopped sandbox could not act on it. */
				if (w->watching)
					watchdog_resume(&w->dog);
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
			/* The sandbox, or (without a PID namespace) an orphan of it that came to us. */
			for (;;) {
				int status;
				pid_t pid = waitpid(-1, &status, WNOHANG);
				if (pid <= 0)
					break;
				if (pid == sandbox) {
					sandbox = -1;
					if (timer_fd >= 0)
						close(timer_fd);
					return status;
				}
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

/* `--probe`: one `probe` record on stdout with what this user may do here. */
static int probe_main(void)
{
	if (dup2(1, STATUS_FD) != STATUS_FD)
		return 1;
	char why[256] = "";
	int userns = ns_try_userns(why, sizeof why);
	for (char *c = why; *c; c++)
		if (*c == ' ')
			*c = '_';
	const char *uidmap = ns_helper("newuidmap"), *gidmap = ns_helper("newgidmap");
	char fields[1024];
	snprintf(fields, sizeof fields, "uid=%u userns=%d landlock=%d seccomp=%d newuidmap=%s newgidmap=%s userns_error=%s",
		 (unsigned)getuid(), userns, landlock_abi(), prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0,
		 uidmap ? uidmap : "-", gidmap ? gidmap : "-", userns ? "-" : why);
	status_probe(fields);
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return (type == FTW_DP ? rmdir(path) : unlink(path)) != 0 && errno != ENOENT ? -1 : 0;
}

/* `--remove DIR UID_FIRST:COUNT GID_FIRST:COUNT`: removes DIR (an agents' work directory tree
 * of this user's kernel) holding files of the user's subordinate ids, which the user itself
 * may not remove: inside a user namespace where the user is 0 and its ranges are 1…count, as
 * `podman unshare rm` does. Exit 0 when it is gone. */
static int remove_main(const char *dir, const char *uids, const char *gids)
{
	unsigned long ufirst, ucount, gfirst, gcount;
	if (dir[0] != '/' || sscanf(uids, "%lu:%lu", &ufirst, &ucount) != 2 || sscanf(gids, "%lu:%lu", &gfirst, &gcount) != 2) {
		fprintf(stderr, "agentos-launch --remove: usage: --remove /DIR UID_FIRST:COUNT GID_FIRST:COUNT\n");
		return 2;
	}
	int ready[2], mapped[2];
	if (pipe2(ready, O_CLOEXEC) != 0 || pipe2(mapped, O_CLOEXEC) != 0)
		return 1;
	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		char c;
		if (unshare(CLONE_NEWUSER) != 0 || write(ready[1], "r", 1) != 1 || read(mapped[0], &c, 1) != 1)
			_exit(3);
		if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0)
			_exit(4);
		_exit(nftw(dir, remove_entry, 64, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) == 0 || errno == ENOENT ? 0 : 5);
	}
	char c;
	if (read(ready[0], &c, 1) != 1)
		return 1;
	char spid[16], self[16], gself[16], uf[24], uc[24], gf[24], gc[24];
	snprintf(spid, sizeof spid, "%d", (int)pid);
	snprintf(self, sizeof self, "%u", (unsigned)getuid());
	snprintf(gself, sizeof gself, "%u", (unsigned)getgid());
	snprintf(uf, sizeof uf, "%lu", ufirst);
	snprintf(uc, sizeof uc, "%lu", ucount);
	snprintf(gf, sizeof gf, "%lu", gfirst);
	snprintf(gc, sizeof gc, "%lu", gcount);
	const char *uargs[] = {spid, "0", self, "1", "1", uf, uc, NULL};
	const char *gargs[] = {spid, "0", gself, "1", "1", gf, gc, NULL};
	ns_map_with_helpers(uargs, gargs);
	if (write(mapped[1], "m", 1) != 1)
		return 1;
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	fprintf(stderr, "agentos-launch --remove %s: could not remove it (step %d)\n", dir, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--probe") == 0)
		return probe_main();
	if (argc == 5 && strcmp(argv[1], "--remove") == 0) {
		/* Its failures are reported on stderr (no status fd here). */
		die_report_to_status(NULL);
		if (dup2(2, STATUS_FD) != STATUS_FD)
			return 1;
		return remove_main(argv[2], argv[3], argv[4]);
	}
	if (argc != 1) {
		fprintf(stderr, "usage: agentos-launch (spec on fd 4, status on fd 5; docs/launcher.md)\n"
				"       agentos-launch --probe\n"
				"       agentos-launch --remove DIR UID_FIRST:COUNT GID_FIRST:COUNT\n");
		return 2;
	}
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
	struct status_isolation isolation = {
	    .ns = ns_names,
	    .cgroup = plan.cgroups ? cgroups.layout : "none",
	    .idmap = !plan.userns ? (plan.switch_ids ? "switch" : "none") : geteuid() == 0 ? "root" : plan.subids ? "subid" : "self",
	    .memory = via_name(plan.memory, "watchdog"),
	    .cpu = via_name(plan.cpu, "throttle"),
	    .pids = via_name(plan.pids, "rlimit"),
	    .seccomp = spec.seccomp,
	    .userns = plan.userns,
	    .landlock = plan.landlock,
	};
	status_isolation(&isolation);

	/* 2. Cgroups before the clone, so the limits hold from the sandbox's first instruction;
	 * only the limits whose controller is here (the others are the watchdog's). */
	if (plan.cgroups) {
		struct cgroup_limits limits = {
		    plan.memory == VIA_CGROUP ? spec.memory_max : -1, plan.memory == VIA_CGROUP ? spec.memory_swap : -1,
		    plan.cpu == VIA_CGROUP ? spec.cpu_quota : -1, plan.cpu == VIA_CGROUP ? spec.cpu_period : -1,
		    plan.pids == VIA_CGROUP ? spec.pids_max : -1};
		cgroup_create(&cgroups, spec.cgroup, &limits);
	}
	/* Without a PID namespace nothing else reaps the agent's orphans: we do, and end them with
	 * it (end_orphans). */
	if (!(plan.ns & SPEC_NS_PID) && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
		die_errno("clone", "PR_SET_CHILD_SUBREAPER");

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
		ns_write_idmaps(pid, plan.uid, plan.gid, plan.subids, plan.own_workdir);
	if (plan.cgroups)
		cgroup_attach(&cgroups, pid);
	if (status_msg_send(sync[0], STATUS_MSG_GO, 0, NULL, NULL) != 0)
		die_errno("clone", "releasing the sandbox");
	/* From here no process of this user may read our memory or fds through /proc (the
	 * sandbox, dumpable when it was cloned, kept what it needs for its id maps). */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

	struct watch w = {.sync_fd = sync[0], .exec_fd = exec_pipe[0]};
	struct watchdog_limits held = {
	    plan.memory == VIA_LAUNCHER ? spec.memory_max : -1,
	    plan.cpu == VIA_LAUNCHER ? spec.cpu_quota : -1,
	    plan.cpu == VIA_LAUNCHER ? spec.cpu_period : -1,
	    plan.pids == VIA_LAUNCHER ? (plan.userns ? spec.pids_max + 1 : plan.nproc) : -1,
	    plan.pids == VIA_LAUNCHER && !plan.userns ? (long long)plan.uid : -1,
	};
	if (watchdog_needed(&held)) {
		/* The namespace's init and all below it; without one, everything below us. */
		int ns_pid = (plan.ns & SPEC_NS_PID) != 0;
		watchdog_start(&w.dog, &held, ns_pid ? pid : getpid(), !ns_pid);
		w.watching = 1;
	}
	int status = supervise(&w, signal_fd);

	/* The sandbox is gone (with PID 1, every process of it): collect what it said last. */
	drain_sync(&w);
	if (w.exec_fd >= 0)
		check_exec(&w);
	end_orphans();
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
	/* Everything the sandbox ran and we (or its init, reaped by us) waited for. */
	struct rusage usage;
	getrusage(RUSAGE_CHILDREN, &usage);
	end.cpu_us = (uint64_t)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000u +
		     (uint64_t)(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
	end.peak_bytes = (uint64_t)usage.ru_maxrss * 1024u;
	if (plan.cgroups) {
		struct cgroup_stats s;
		cgroup_read_stats(&cgroups, &s);
		/* Before oom_kill was counted (v1, Linux < 4.13): hitting the limit and dying of
		 * SIGKILL is the OOM killer's signature. */
		if (plan.memory == VIA_CGROUP) {
			end.oom = s.oom || (!s.oom_counted && s.memory_failcnt > 0 && end.signal == SIGKILL);
			end.peak_bytes = s.peak_bytes;
		}
		if (plan.pids == VIA_CGROUP)
			end.pids_limit = s.pids_limit;
		if (plan.cpu == VIA_CGROUP) {
			end.throttled_us = s.throttled_us;
			end.nr_throttled = s.nr_throttled;
		}
		if (s.cpu_us)
			end.cpu_us = s.cpu_us;
	}
	if (w.watching) {
		if (plan.memory == VIA_LAUNCHER) {
			/* The watchdog's sum when it looked; a sandbox too short-lived for a look has its
			 * largest process's peak resident set instead. */
			if (w.dog.peak_bytes > 0)
				end.peak_bytes = w.dog.peak_bytes;
			if (w.oom) {
				end.oom = 1;
				end.oom_source = "watchdog";
			}
		}
		if (plan.cpu == VIA_LAUNCHER) {
			end.throttled_us = w.dog.throttled_us;
			end.nr_throttled = w.dog.nr_throttled;
		}
		/* A sandbox killed while stopped may never have been waited for by its own parents. */
		if (!plan.cgroups && w.dog.cpu_total_ns / 1000u > end.cpu_us)
			end.cpu_us = w.dog.cpu_total_ns / 1000u;
		if (plan.pids == VIA_LAUNCHER)
			end.pids_limit = w.dog.tasks_hit;
	}
	if (end.oom && !end.oom_source)
		end.oom_source = "cgroup";
	status_ended(&end);
	cgroup_remove(&cgroups);
	return 0;
}
