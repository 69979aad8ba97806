/**
 * Which states count as live or active, written once (TreeState beside ChildLifecycle, AgentStatus
 * beside the process table) and read by the supervisors, the router, boot, `top` and the observer.
 */
import { describe, expect, it } from "vitest"
import * as AgentStatus from "../../src/process/AgentStatus.ts"
import { ChildLifecycle } from "../../src/supervision/machines/ChildLifecycle.ts"
import * as TreeState from "../../src/supervision/machines/TreeState.ts"

describe("tree states", () => {
  const states = Object.keys(ChildLifecycle.config.states ?? {})

  it("names only states the lifecycle machine has, and sorts every one of them", () => {
    expect(states.sort()).toEqual(["backoff", "exited", "failed", "restarting", "running", "starting", "stopping"])
    expect(states.filter(TreeState.hasProcess).sort()).toEqual(["running", "starting", "stopping"])
    expect(states.filter(TreeState.isActive).sort()).toEqual(["backoff", "restarting", "running", "starting", "stopping"])
  })

  it("an agent's status is alive while it has a process", () => {
    const all: ReadonlyArray<AgentStatus.Status> = ["starting", "running", "stopping", "exited", "failed"]
    expect(all.filter(AgentStatus.isAlive)).toEqual(["starting", "running", "stopping"])
    expect(AgentStatus.isAlive("restarting")).toBe(false)
  })
})
