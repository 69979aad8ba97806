/*
 * The sandbox's filesystem: a tmpfs root holding read-only binds of the system directories
 * and of each `ro` grant, read-write binds of each `rw` grant and the workdir, fresh tmpfs over
 * /tmp, /run, /var/run and each `tmpfs` path, covers over secrets, a fresh /proc, a minimal
 * /dev; then pivot_root, the old root detached, the new root made read-only.
 */
#ifndef AGENTOS_MOUNT_H
#define AGENTOS_MOUNT_H

#include "spec.h"

/* Runs in the new mount namespace, as its root; step `mount`. `fresh_proc`: a new PID
 * namespace's /proc (else the host's is bound). */
void mount_setup_root(const struct spec *spec, int fresh_proc);

#endif
