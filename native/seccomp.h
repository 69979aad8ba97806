/*
 * The default seccomp profile (docs/launcher.md "Seccomp"): raw BPF, architecture checked
 * first, EPERM for the deny list, clone with a CLONE_NEW* flag refused, clone3 and io_uring
 * ENOSYS, and sockets only of the families the agent needs. What else is denied depends on
 * which mechanism holds the sandbox's other limits (the policy below).
 */
#ifndef AGENTOS_SECCOMP_H
#define AGENTOS_SECCOMP_H

struct seccomp_policy {
	/* AF_INET and AF_INET6 sockets: the agent has the host's network. */
	int inet;
	/* socket(AF_UNIX): only where a mount namespace hides every host socket path (socketpair,
	 * which needs no path, is always allowed). */
	int unix_socket;
	/* Memory no rlimit counts is refused (memfd_create, MAP_SHARED|MAP_ANONYMOUS, SysV shm):
	 * the memory limit is the launcher's watchdog, not a cgroup. */
	int deny_uncounted_memory;
	/* No IPC namespace and Landlock's gaps (situation C): SysV IPC, and path-based chmod,
	 * chown, xattr and utimes calls (Landlock allows them) are refused. */
	int deny_host_objects;
};

/* Installs the filter; needs no_new_privs (or CAP_SYS_ADMIN). Step `seccomp`. */
void seccomp_install(const struct seccomp_policy *policy);

#endif
