/** Where the kernel listens, and the rules for its directory. */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"
import * as SocketPath from "../../src/protocol/SocketPath.ts"
import { tempDir } from "../support/kernel.ts"

describe("SocketPath.resolve", () => {
  const cases: ReadonlyArray<readonly [string, NodeJS.ProcessEnv, string]> = [
    ["$AGENTOS_SOCKET first", { AGENTOS_SOCKET: "/x/k.sock", XDG_RUNTIME_DIR: "/run/user/5" }, "/x/k.sock"],
    ["then $XDG_RUNTIME_DIR/agentos/kernel.sock", { XDG_RUNTIME_DIR: "/run/user/5" }, "/run/user/5/agentos/kernel.sock"],
    ["then /tmp/agentos-<uid>/kernel.sock", {}, "/tmp/agentos-5/kernel.sock"],
    ["empty values count as unset", { AGENTOS_SOCKET: "", XDG_RUNTIME_DIR: "" }, "/tmp/agentos-5/kernel.sock"]
  ]
  for (const [name, env, expected] of cases) {
    it(name, () => expect(SocketPath.resolve(env, 5)).toBe(expected))
  }
  it("makes a relative $AGENTOS_SOCKET absolute", () => {
    expect(SocketPath.resolve({ AGENTOS_SOCKET: "k.sock" }, 5)).toBe(Path.resolve("k.sock"))
  })
})

describe("SocketPath.prepareDirectory", () => {
  it("creates a missing directory with mode 0700", () => {
    const dir = tempDir()
    try {
      const socket = Path.join(dir.path, "a", "agentos", "kernel.sock")
      expect(SocketPath.prepareDirectory(socket)).toBeUndefined()
      expect(Fs.statSync(Path.dirname(socket)).mode & 0o777).toBe(0o700)
    } finally {
      dir.remove()
    }
  })

  it("refuses a default directory open to other users", () => {
    const dir = tempDir()
    try {
      const agentosDir = Path.join(dir.path, "agentos")
      Fs.mkdirSync(agentosDir, { mode: 0o777 })
      Fs.chmodSync(agentosDir, 0o777)
      expect(SocketPath.prepareDirectory(Path.join(agentosDir, "kernel.sock"))).toMatch(/open to other users/)
    } finally {
      dir.remove()
    }
  })

  it("refuses a default directory owned by another uid", () => {
    const dir = tempDir()
    try {
      const agentosDir = Path.join(dir.path, "agentos")
      Fs.mkdirSync(agentosDir, { mode: 0o700 })
      expect(SocketPath.prepareDirectory(Path.join(agentosDir, "kernel.sock"), 4242)).toMatch(/belongs to uid/)
    } finally {
      dir.remove()
    }
  })

  it("leaves a user-chosen shared directory alone", () => {
    const dir = tempDir()
    try {
      Fs.chmodSync(dir.path, 0o1777)
      expect(SocketPath.prepareDirectory(Path.join(dir.path, "k.sock"))).toBeUndefined()
      expect(Fs.statSync(dir.path).mode & 0o7777).toBe(0o1777)
    } finally {
      dir.remove()
    }
  })
})
