/*
 * Resource limits. Applied in the agent just before exec; inside a user namespace a hard limit
 * can only be lowered, so asking for more than the launcher has fails with EPERM, reported.
 */
#include "rlimit.h"

#include <stdio.h>
#include <sys/resource.h>

#include "die.h"

void rlimit_apply(const struct spec *spec)
{
	for (int i = 0; i < SPEC_RLIMITS; i++) {
		const struct spec_rlimit *r = &spec->rlimits[i];
		if (r->set && setrlimit((__rlimit_resource_t)r->resource, &r->value) != 0)
			die_errno("rlimit", "setrlimit(%s, %llu %llu)", r->name, (unsigned long long)r->value.rlim_cur,
				  (unsigned long long)r->value.rlim_max);
	}
}
