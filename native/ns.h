/*
 * Namespaces: whether unprivileged user namespaces work here, the clone into new ones, the
 * user namespace's id maps (written by the host side), becoming its root (the sandbox side),
 * the UTS hostname and bringing up `lo` in a fresh network namespace.
 */
#ifndef AGENTOS_NS_H
#define AGENTOS_NS_H

#include <stddef.h>
#include <sys/types.h>

/* Whether this process may create a usable user namespace, learnt by trying (clone, id maps,
 * setresuid, a tmpfs mount); 0 with the failing step in `why`. */
int ns_try_userns(char *why, size_t size);

/* The path of a setuid id-map helper (`newuidmap`, `newgidmap`), or NULL. */
const char *ns_helper(const char *name);

/* clone(2) into the namespaces of `spec_ns` (enum spec_ns bits), fork-like; step `clone`. */
pid_t ns_clone(unsigned spec_ns);

/* Host side: `0 <uid> 1` in uid_map and gid_map, setgroups denied; with `helpers`, through
 * newuidmap/newgidmap (ids of the user's /etc/subuid range), `also_self` adding `1 <own id> 1`.
 * Step `userns`. */
void ns_write_idmaps(pid_t pid, uid_t uid, gid_t gid, int helpers, int also_self);

/* Runs newuidmap and newgidmap with these arguments (`pid inside outside count …`, NULL-ended),
 * both at once; step `userns`, naming the helper and what it printed, when either fails. */
void ns_map_with_helpers(const char *const uid_args[], const char *const gid_args[]);

/* Sandbox side, after the maps: become uid/gid 0 of the namespace (the host uid/gid outside). */
void ns_become_root(void);

void ns_set_hostname(const char *hostname);

/* `lo` up (SIOCSIFFLAGS): a new network namespace starts with it down. */
void ns_lo_up(void);

#endif
