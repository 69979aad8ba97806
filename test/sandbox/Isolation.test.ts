/**
 * The isolation model, pure: for each situation, which mechanism holds each property, what is
 * weak, what is missing, and the lines boot prints. The machines are what the launcher's probe
 * reports on each kind of host (rootless.md); the real ones are exercised end to end by
 * test/adversarial/containment.test.ts.
 */
import { describe, expect, it } from "vitest"
import * as Isolation from "../../src/sandbox/Isolation.ts"

const probe = (over: Partial<Isolation.Machine["probe"]> = {}): Isolation.Machine["probe"] => ({
  _tag: "probe", uid: 1001, userns: true, usernsError: null, landlock: 7, seccomp: true, newuidmap: "/usr/bin/newuidmap", newgidmap: "/usr/bin/newgidmap", ...over
})
const subordinate = { uids: { first: 100000, count: 65536 }, gids: { first: 100000, count: 65536 } }
const none = { kind: "none" as const, roots: [], controllers: [], detail: "not delegated" }
const machine = (over: Partial<Isolation.Machine> = {}): Isolation.Machine => ({ uid: 1001, root: false, probe: probe(), subordinate, cgroups: none, ...over })
const held = (m: Isolation.Machine, mode: Isolation.Mode) => Object.fromEntries(Isolation.properties(m, mode).map((p) => [p.name, p.held]))
const mechanism = (m: Isolation.Machine, mode: Isolation.Mode, name: Isolation.PropertyName) => Isolation.properties(m, mode).find((p) => p.name === name)!.mechanism

describe("Isolation", () => {
  it("root: every property held by namespaces and cgroups", () => {
    const m = machine({ uid: 0, root: true, cgroups: { kind: "root", roots: [], controllers: ["memory", "cpu", "pids"], detail: "" } })
    expect(Isolation.situation(m)).toBe("root")
    expect(Object.values(held(m, "namespaces"))).toEqual(Array(9).fill("held"))
    expect(mechanism(m, "namespaces", "memory")).toMatch(/^cgroup memory\.max/)
  })

  it("A: namespaces; memory, cpu and processes by the launcher; identity from /etc/subuid", () => {
    const m = machine()
    expect(Isolation.situation(m)).toBe("namespaces")
    expect(Isolation.describeSituation(m)).toMatch(/situation A/)
    expect(Object.values(held(m, "namespaces"))).toEqual(Array(9).fill("held"))
    expect(mechanism(m, "namespaces", "memory")).toMatch(/^launcher watchdog/)
    expect(mechanism(m, "namespaces", "cpu")).toMatch(/^launcher duty cycle/)
    expect(mechanism(m, "namespaces", "processes")).toMatch(/^RLIMIT_NPROC, counted in the agent's own user namespace/)
    expect(mechanism(m, "namespaces", "identity")).toMatch(/\/etc\/subuid range/)
  })

  it("A without newuidmap: identity is weak (the kernel's uid), and says why", () => {
    const m = machine({ subordinate: { problem: "newuidmap/newgidmap are not installed" } })
    const identity = Isolation.properties(m, "namespaces").find((p) => p.name === "identity")!
    expect(identity).toMatchObject({ held: "weak" })
    expect(identity.note).toMatch(/newuidmap/)
  })

  it("B: a delegated cgroup holds the limits it has controllers for", () => {
    const m = machine({ cgroups: { kind: "delegated", roots: ["/sys/fs/cgroup/user.slice/x"], controllers: ["memory", "pids"], detail: "" } })
    expect(Isolation.describeSituation(m)).toMatch(/situation B/)
    expect(mechanism(m, "namespaces", "memory")).toMatch(/^cgroup/)
    expect(mechanism(m, "namespaces", "processes")).toMatch(/^cgroup/)
    expect(mechanism(m, "namespaces", "cpu")).toMatch(/^launcher duty cycle/)
  })

  it("C: Landlock and seccomp; processes and identity weak; nothing missing with ABI 6", () => {
    const m = machine({ probe: probe({ userns: false, usernsError: "clone(CLONE_NEWUSER): No space left on device" }) })
    expect(Isolation.situation(m)).toBe("landlock")
    expect(Isolation.defaultMode(m)).toBe("landlock")
    expect(held(m, "landlock")).toMatchObject({ identity: "weak", processes: "weak", filesystem: "held", "signals and ptrace": "held" })
    expect(Isolation.missing(m, "landlock")).toEqual([])
    expect(Isolation.summary(m, false).join("\n")).toMatch(/weak processes: counted with every process of uid 1001/)
  })

  it("C with Landlock below ABI 6: signals are missing, sandboxed agents refused unless weak", () => {
    const m = machine({ probe: probe({ userns: false, landlock: 5 }) })
    expect(Isolation.missing(m, "landlock").map((p) => p.name)).toEqual(["signals and ptrace"])
    expect(Isolation.summary(m, false).join("\n")).toMatch(/MISSING signals and ptrace: .*sandboxed agents are refused/)
    expect(Isolation.summary(m, true).join("\n")).toMatch(/--isolation=weak: sandboxed agents run without it/)
  })

  it("neither user namespaces nor Landlock: the filesystem cannot be contained", () => {
    const m = machine({ probe: probe({ userns: false, landlock: 0 }) })
    expect(Isolation.situation(m)).toBe("unconfined")
    expect(Isolation.missing(m, "landlock").map((p) => p.name)).toEqual(["filesystem", "signals and ptrace"])
  })
})
