/*
 * agentos-launch has no API: main.c is the program. This header only names the three roles
 * one launch plays, each in its own process: the host launcher (spawned by the kernel), the
 * sandbox's init (PID 1 of the new PID namespace) and the agent.
 */
#ifndef AGENTOS_MAIN_H
#define AGENTOS_MAIN_H

/* The launcher's file descriptors at start (docs/launcher.md): 3 the agent's kernel
 * connection, 4 the spec, 5 the status records. */
#define AGENT_FD 3

#endif
