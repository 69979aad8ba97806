/*
 * Opening a host path without following a symbolic link anywhere in it (bubblewrap's
 * --bind-fd, openat2's RESOLVE_NO_SYMLINKS): a grant is bound, or made a Landlock rule, from
 * the object the kernel named, never from wherever a link swapped in since (an agent's earlier
 * incarnation could have replaced a directory of its workdir by one; CVE-2024-42472).
 */
#ifndef AGENTOS_PATH_H
#define AGENTOS_PATH_H

/* An O_PATH|O_CLOEXEC fd of `path` (absolute, no `.`/`..`), walked one component at a time with
 * O_NOFOLLOW; -1 with errno (ELOOP when a component is a symbolic link). */
int path_open_strict(const char *path);

#endif
