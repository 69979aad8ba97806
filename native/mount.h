/*
 * The sandbox's filesystem: a tmpfs root holding read-only binds of the system directories
 * and of each `ro` grant, read-write binds of each `rw` grant and the workdir, fresh tmpfs over
 * /tmp, /run, /var/run and each `tmpfs` path, covers over secrets, a fresh /proc, a minimal
 * /dev; then pivot_root, the old root detached, the new root made read-only.
 */
#ifndef AGENTOS_MOUNT_H
#define AGENTOS_MOUNT_H

#include "spec.h"

struct mount_sources;

/* In the new mount namespace, before becoming its root: opens every bind source (system
 * directories, grants, the workdir) without following symlinks, as the launcher's own user;
 * step `mount`. */
struct mount_sources *mount_open_sources(const struct spec *spec);

/* The workdir's source fd (O_PATH), or -1: for taking ownership of it (main.c). */
int mount_workdir_fd(const struct mount_sources *sources);

/* Then, as the namespace's root: builds the new root from `sources` (consumed); step `mount`.
 * `fresh_proc`: a new PID namespace's /proc (else the host's is bound). */
void mount_setup_root(const struct spec *spec, struct mount_sources *sources, int fresh_proc);

#endif
