/**
 * Test support: what this machine gives agents when the tests run as the current user, learnt
 * the kernel's own way (src/sandbox/Isolation.ts). Tests that look at a mechanism (a cgroup
 * directory, the launcher's watchdog) ask which one holds the property here and assert that
 * one: as root the cgroup, as an ordinary user the launcher's.
 */
import * as Isolation from "../../src/sandbox/Isolation.ts"
import { launcherPath } from "../../src/sandbox/NodeLauncher.ts"

/** This machine, for the current user (cgroups not prepared: tests do not move themselves). */
export const machine: Isolation.Machine = Isolation.detect(launcherPath)

/** Agents' cgroups exist here (root, or a cgroup delegated to this user). */
export const hasCgroups = machine.cgroups.kind !== "none"

/** Whether a cgroup controller holds this limit here (else the launcher does). */
export const cgroupHolds = (controller: "memory" | "cpu" | "pids"): boolean => hasCgroups && machine.cgroups.controllers.includes(controller)

/** Sandboxed agents can run here at all (root, user namespaces, or Landlock ABI 6). */
export const canSandbox = Isolation.missing(machine, Isolation.defaultMode(machine)).length === 0

/** Why not, for a skip's reason. */
export const cannotSandboxBecause = Isolation.missing(machine, Isolation.defaultMode(machine)).map((p) => `${p.name}: ${p.note ?? p.mechanism}`).join("; ")

export const isRoot = machine.root

/**
 * Which launcher starts the agents of a test kernel: `native` (native/build/agentos-launch,
 * NodeLauncher) or `process` (ProcessLauncher: plain child processes, no sandbox).
 */
export type TestLauncher = "native" | "process"

/**
 * The launcher of the suites that are not about isolation (supervision, IPC, the syscalls, the
 * clients, logs): the native one where agents can be sandboxed here, else the plain one;
 * `AGENTOS_TEST_LAUNCHER=process` (or `native`) chooses, to run them on the plain launcher where
 * the native one works too. Suites about isolation always use the native one.
 */
export const launcher: TestLauncher = (() => {
  const asked = process.env.AGENTOS_TEST_LAUNCHER
  if (asked === undefined || asked === "") return canSandbox ? "native" : "process"
  if (asked === "native" || asked === "process") return asked
  throw new Error(`AGENTOS_TEST_LAUNCHER=${asked}: expected native or process`)
})()

/** Agents of those suites are plain processes here (no namespaces, cgroups or seccomp). */
export const plain = launcher === "process"
