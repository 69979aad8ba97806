/* The agent's resource limits (rlimit.NAME in the spec; core=0 unless asked). */
#ifndef AGENTOS_RLIMIT_H
#define AGENTOS_RLIMIT_H

#include "spec.h"

/* setrlimit for each limit the spec sets; step `rlimit` (raising a hard limit needs root). */
void rlimit_apply(const struct spec *spec);

#endif
