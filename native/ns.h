/*
 * Namespaces: whether unprivileged user namespaces work here, the clone into new ones, the
 * user namespace's id maps (written by the host side), becoming its root (the sandbox side),
 * the UTS hostname and bringing up `lo` in a fresh network namespace.
 */
#ifndef AGENTOS_NS_H
#define AGENTOS_NS_H

#include <sys/types.h>

/* Whether an unprivileged process may create a usable user namespace (sysctls, up front). */
int ns_userns_available(void);

/* clone(2) into the namespaces of `spec_ns` (enum spec_ns bits), fork-like; step `clone`. */
pid_t ns_clone(unsigned spec_ns);

/* Host side: `0 <uid> 1` in uid_map and gid_map, setgroups denied; step `userns`. */
void ns_write_idmaps(pid_t pid, uid_t uid, gid_t gid);

/* Sandbox side, after the maps: become uid/gid 0 of the namespace (the host uid/gid outside). */
void ns_become_root(void);

void ns_set_hostname(const char *hostname);

/* `lo` up (SIOCSIFFLAGS): a new network namespace starts with it down. */
void ns_lo_up(void);

#endif
