/*
 * The default seccomp profile (docs/launcher.md "Seccomp"): raw BPF, architecture checked
 * first, EPERM for the deny list, clone with a CLONE_NEW* flag refused, clone3 ENOSYS.
 */
#ifndef AGENTOS_SECCOMP_H
#define AGENTOS_SECCOMP_H

/* Installs the filter; needs no_new_privs (or CAP_SYS_ADMIN). Step `seccomp`. */
void seccomp_install(void);

#endif
