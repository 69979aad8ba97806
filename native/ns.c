/*
 * Namespaces. The clone is a raw clone(2) with a NULL stack, so the child continues like a
 * fork's; the launcher is single-threaded, which is what CLONE_NEWUSER requires anyway. Id maps
 * are written by the launcher itself (as root, or an unprivileged launcher mapping its own ids)
 * or by the setuid newuidmap/newgidmap for ids of the user's subordinate ranges.
 */
#include "ns.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "die.h"
#include "spec.h"

int ns_try_userns(char *why, size_t size)
{
	/* What Ubuntu's AppArmor gate or a zero max_user_namespaces lets through can only be
	 * learnt by trying each step an agent's launch takes: the clone, the id maps, becoming
	 * root inside, a mount. */
	int go[2], result[2];
	if (pipe2(go, O_CLOEXEC) != 0 || pipe2(result, O_CLOEXEC) != 0) {
		snprintf(why, size, "pipe2: %s", strerror(errno));
		return 0;
	}
	pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | CLONE_NEWNS | SIGCHLD), NULL, NULL, NULL, NULL);
	if (pid < 0) {
		snprintf(why, size, "clone(CLONE_NEWUSER|CLONE_NEWNS): %s", strerror(errno));
		return 0;
	}
	if (pid == 0) {
		char c, report[128] = "";
		close(go[1]);
		close(result[0]);
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0)
			snprintf(report, sizeof report, "setresuid(0) in the new user namespace: %s", strerror(errno));
		else if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
			snprintf(report, sizeof report, "making / private in the new user namespace: %s", strerror(errno));
		else if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=4k") != 0)
			snprintf(report, sizeof report, "mounting a tmpfs in the new user namespace: %s", strerror(errno));
		ssize_t w = write(result[1], report, strlen(report));
		(void)w;
		_exit(0);
	}
	close(go[0]);
	close(result[1]);
	char map[64];
	int ok = 1;
	const char *files[] = {"setgroups", "uid_map", "gid_map"};
	for (int i = 0; i < 3 && ok; i++) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, files[i]);
		if (i == 0)
			snprintf(map, sizeof map, "deny");
		else
			snprintf(map, sizeof map, "0 %u 1\n", i == 1 ? (unsigned)getuid() : (unsigned)getgid());
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, map, strlen(map)) != (ssize_t)strlen(map)) {
			snprintf(why, size, "writing %s of a new user namespace: %s", files[i], strerror(errno));
			ok = 0;
		}
		if (fd >= 0)
			close(fd);
	}
	if (ok && write(go[1], "g", 1) != 1)
		ok = 0;
	close(go[1]);
	char report[128];
	ssize_t n = ok ? read(result[0], report, sizeof report - 1) : 0;
	close(result[0]);
	if (!ok)
		kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (ok && n > 0) {
		report[n] = '\0';
		snprintf(why, size, "%s", report);
		ok = 0;
	}
	return ok;
}

pid_t ns_clone(unsigned spec_ns)
{
	static const struct {
		unsigned ns;
		int flag;
		const char *name;
	} map[] = {{SPEC_NS_USER, CLONE_NEWUSER, "CLONE_NEWUSER"}, {SPEC_NS_PID, CLONE_NEWPID, "CLONE_NEWPID"},
		   {SPEC_NS_MOUNT, CLONE_NEWNS, "CLONE_NEWNS"},     {SPEC_NS_NET, CLONE_NEWNET, "CLONE_NEWNET"},
		   {SPEC_NS_UTS, CLONE_NEWUTS, "CLONE_NEWUTS"},     {SPEC_NS_IPC, CLONE_NEWIPC, "CLONE_NEWIPC"}};
	unsigned long flags = SIGCHLD;
	char names[128] = "";
	for (size_t i = 0; i < sizeof map / sizeof *map; i++)
		if (spec_ns & map[i].ns) {
			flags |= (unsigned long)map[i].flag;
			if (names[0])
				strcat(names, "|");
			strcat(names, map[i].name);
		}
	pid_t pid = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
	if (pid < 0)
		die_errno("clone", "clone(%s)", names[0] ? names : "SIGCHLD");
	return pid;
}

static void write_proc(pid_t pid, const char *file, const char *text)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		die_errno("userns", "open %s", path);
	ssize_t n = write(fd, text, strlen(text));
	int err = errno;
	close(fd);
	if (n != (ssize_t)strlen(text)) {
		errno = n < 0 ? err : EIO;
		die_errno("userns", "writing `%.*s` to %s", (int)strcspn(text, "\n"), text, path);
	}
}

/* Runs a uid-map helper (newuidmap, newgidmap) with a clean signal mask, no fd beyond 0-2 and
 * its stderr captured for the error record; returns its pid. */
static pid_t run_helper(const char *const argv[], int *err_fd)
{
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) != 0)
		die_errno("userns", "pipe2 for %s", argv[0]);
	pid_t pid = fork();
	if (pid < 0)
		die_errno("userns", "fork for %s", argv[0]);
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
		}
		dup2(pipefd[1], 2);
		char *const env[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
		execve(argv[0], (char *const *)argv, env);
		_exit(127);
	}
	close(pipefd[1]);
	*err_fd = pipefd[0];
	return pid;
}

static void wait_helper(pid_t pid, int err_fd, const char *name)
{
	char text[256];
	ssize_t n = read(err_fd, text, sizeof text - 1);
	close(err_fd);
	text[n > 0 ? n : 0] = '\0';
	text[strcspn(text, "\n")] = '\0';
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	errno = EPERM;
	die_errno("userns", "%s failed (%s)%s%s", name,
		  WIFEXITED(status) && WEXITSTATUS(status) == 127 ? "could not run it" : "refused the mapping",
		  text[0] ? ": " : "", text);
}

const char *ns_helper(const char *name)
{
	static const char *const dirs[] = {"/usr/bin", "/bin", "/usr/sbin", "/sbin"};
	static char found[2][64];
	int slot = strcmp(name, "newuidmap") == 0 ? 0 : 1;
	for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
		snprintf(found[slot], sizeof found[slot], "%s/%s", dirs[i], name);
		if (access(found[slot], X_OK) == 0)
			return found[slot];
	}
	return NULL;
}

void ns_map_with_helpers(const char *const uid_args[], const char *const gid_args[])
{
	const char *uidmap = ns_helper("newuidmap"), *gidmap = ns_helper("newgidmap");
	if (!uidmap || !gidmap) {
		errno = ENOENT;
		die_errno("userns", "newuidmap and newgidmap are needed to map ids of the user's subordinate ranges (install the uidmap package)");
	}
	const char *uargv[16] = {uidmap}, *gargv[16] = {gidmap};
	for (int i = 0; uid_args[i] && i < 14; i++)
		uargv[i + 1] = uid_args[i];
	for (int i = 0; gid_args[i] && i < 14; i++)
		gargv[i + 1] = gid_args[i];
	/* Both at once: each is a fork and an exec of a setuid program. */
	int uerr, gerr;
	pid_t u = run_helper(uargv, &uerr);
	pid_t g = run_helper(gargv, &gerr);
	wait_helper(u, uerr, "newuidmap");
	wait_helper(g, gerr, "newgidmap");
}

void ns_write_idmaps(pid_t pid, uid_t uid, gid_t gid, int helpers, int also_self)
{
	char map[64];
	if (!helpers) {
		/* setgroups first: an unprivileged writer may not map gids while it is allowed. */
		write_proc(pid, "setgroups", "deny");
		snprintf(map, sizeof map, "0 %u 1\n", (unsigned)uid);
		write_proc(pid, "uid_map", map);
		snprintf(map, sizeof map, "0 %u 1\n", (unsigned)gid);
		write_proc(pid, "gid_map", map);
		return;
	}
	/* Ids of the user's own /etc/subuid and /etc/subgid ranges: only the setuid helpers may map
	 * them (rootless podman's way). `also_self` maps the launcher's own ids as 1, so that the
	 * sandbox may take ownership of its workdir (main.c). */
	char spid[16], sid[16], gsid[16], self[16], gself[16];
	snprintf(spid, sizeof spid, "%d", (int)pid);
	snprintf(sid, sizeof sid, "%u", (unsigned)uid);
	snprintf(gsid, sizeof gsid, "%u", (unsigned)gid);
	snprintf(self, sizeof self, "%u", (unsigned)getuid());
	snprintf(gself, sizeof gself, "%u", (unsigned)getgid());
	const char *uargs[] = {spid, "0", sid, "1", also_self ? "1" : NULL, self, "1", NULL};
	const char *gargs[] = {spid, "0", gsid, "1", also_self ? "1" : NULL, gself, "1", NULL};
	ns_map_with_helpers(uargs, gargs);
}

void ns_become_root(void)
{
	/* Until now the credentials were the host launcher's (possibly host root, which maps to
	 * nothing here); from now on they are uid/gid 0 inside, the agent's uid/gid outside. */
	if (setresgid(0, 0, 0) != 0)
		die_errno("userns", "setresgid(0)");
	if (setresuid(0, 0, 0) != 0)
		die_errno("userns", "setresuid(0)");
}

void ns_set_hostname(const char *hostname)
{
	if (sethostname(hostname, strlen(hostname)) != 0)
		die_errno("hostname", "sethostname(%s)", hostname);
}

void ns_lo_up(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die_errno("hostname", "socket(AF_INET) for lo");
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0)
		die_errno("hostname", "SIOCGIFFLAGS lo");
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) != 0)
		die_errno("hostname", "SIOCSIFFLAGS lo up");
	close(fd);
}
