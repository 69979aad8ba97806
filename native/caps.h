/*
 * Dropping every capability: the bounding set, the ambient set, then effective, permitted and
 * inheritable, with securebits locked so that no exec (the agent is root of its user
 * namespace) gives any back.
 */
#ifndef AGENTOS_CAPS_H
#define AGENTOS_CAPS_H

#include <sys/types.h>

/* With `switch_ids` (root without a user namespace) the process also becomes uid/gid, with no
 * supplementary groups, between the bounding-set drop and the capset. Step `caps`. */
void caps_drop(int switch_ids, uid_t uid, gid_t gid);

#endif
