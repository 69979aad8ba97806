/*
 * Landlock (situation C: no user namespaces, so no mount namespace): the agent may read,
 * write and execute only below the paths its spec grants, connect and bind TCP only with a
 * host network, and (ABI 6) reach no abstract Unix socket and signal no process made outside
 * its sandbox. A property the running kernel's ABI cannot give is reported, never assumed.
 */
#ifndef AGENTOS_LANDLOCK_H
#define AGENTOS_LANDLOCK_H

#include "spec.h"

/* The running kernel's Landlock ABI version; 0 when Landlock is absent or disabled. */
int landlock_abi(void);

/* Restricts the calling process (and everything it execs or forks) to the spec's grants: the
 * system directories read-only, `ro` read-only, `rw` and the workdir read-write, /proc
 * readable, the /dev nodes a program needs. Needs no_new_privs; step `landlock`. */
void landlock_restrict(const struct spec *spec, int abi);

#endif
