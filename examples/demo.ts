/**
 * What the demos share until `agentos boot` runs them as trees: a kernel started in this
 * process on a private socket, a client connected to it like any other, and each agent's output
 * lines (which the kernel captures). Everything stops when the demo's body returns or throws.
 */
import { Context, Effect, Exit, Layer, Scope } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Connection } from "../src/client/Connection.ts"
import * as Daemon from "../src/app/Daemon.ts"
import { AgentLogs } from "../src/logs/AgentLogs.ts"

/** A running demo kernel. */
export interface DemoKernel {
  readonly socketPath: string
  readonly client: Connection
  /** The lines an agent printed so far. */
  readonly output: (name: string) => ReadonlyArray<string>
}

/** Runs `body` against a fresh kernel, then shuts it down. */
export const withKernel = async <A>(body: (kernel: DemoKernel) => Promise<A>): Promise<A> => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "agentos-demo-"))
  // Agents reach their work directories below it as their own uid: let them pass (not list).
  Fs.chmodSync(dir, 0o711)
  const socketPath = Path.join(dir, "kernel.sock")
  const scope = Effect.runSync(Scope.make())
  try {
    const context = await Effect.runPromise(
      Layer.buildWithScope(Daemon.layer({ socketPath, stateDir: Path.join(dir, "state") }), scope)
    )
    const logs = Context.get(context, AgentLogs)
    const client = await Connection.connect({ path: socketPath })
    await client.calls.hello("demo")
    try {
      return await body({
        socketPath,
        client,
        output: (name) => logs.tail(name, { n: Number.MAX_SAFE_INTEGER }).map((o) => o.line)
      })
    } finally {
      await client.close()
    }
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    Fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** Sleeps. */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls until `check` returns a value (not undefined), or the deadline passes. */
export const until = async <A>(check: () => Promise<A | undefined>, timeoutMs: number, everyMs = 100): Promise<A | undefined> => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const value = await check()
    if (value !== undefined) return value
    await sleep(everyMs)
  }
  return undefined
}
