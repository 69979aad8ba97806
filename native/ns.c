/*
 * Namespaces. The clone is a raw clone(2) with a NULL stack, so the child continues like a
 * fork's; the launcher is single-threaded, which is what CLONE_NEWUSER requires anyway.
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
#include <sys/syscall.h>
#include <unistd.h>

#include "die.h"
#include "spec.h"

static long read_sysctl(const char *path)
{
	char buf[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

int ns_userns_available(void)
{
	if (read_sysctl("/proc/sys/user/max_user_namespaces") == 0)
		return 0;
	/* Debian's switch, and Ubuntu's AppArmor gate (namespace made, capabilities denied). */
	if (read_sysctl("/proc/sys/kernel/unprivileged_userns_clone") == 0)
		return 0;
	if (read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == 1)
		return 0;
	return access("/proc/self/ns/user", F_OK) == 0;
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

void ns_write_idmaps(pid_t pid, uid_t uid, gid_t gid)
{
	char map[64];
	/* setgroups first: an unprivileged writer may not map gids while it is allowed. */
	write_proc(pid, "setgroups", "deny");
	snprintf(map, sizeof map, "0 %u 1\n", (unsigned)uid);
	write_proc(pid, "uid_map", map);
	snprintf(map, sizeof map, "0 %u 1\n", (unsigned)gid);
	write_proc(pid, "gid_map", map);
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
