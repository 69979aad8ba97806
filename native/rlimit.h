/* The agent's resource limits (rlimit.NAME in the spec; core=0 unless asked). */
#ifndef AGENTOS_RLIMIT_H
#define AGENTOS_RLIMIT_H

#include <sys/resource.h>
#include <sys/types.h>

#include "spec.h"

/* setrlimit for each limit the spec sets; step `rlimit` (raising a hard limit needs root). */
void rlimit_apply(const struct spec *spec);

/* One more limit, soft = hard = `value`; step `rlimit`. */
void rlimit_set(int resource, const char *name, rlim_t value);

/* Tasks (threads) whose real uid is `uid`, host-wide: what RLIMIT_NPROC counts outside a user
 * namespace. */
long long rlimit_tasks_of(uid_t uid);

#endif
