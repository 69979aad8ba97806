/**
 * Test support: the real `agentos` command as a child process (bin/agentos.js under this
 * Node 24), for end-to-end CLI tests.
 */
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"

/** Path of the CLI entry point. */
export const bin = Path.resolve(import.meta.dirname, "../../bin/agentos.js")

/** The result of a finished command. */
export interface Finished {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `agentos ...args` to completion. */
export const run = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}, timeoutMs = 20_000): Promise<Finished> =>
  new Promise((resolve, reject) => {
    const child = ChildProcess.spawn(process.execPath, [bin, ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`agentos ${args.join(" ")} did not finish in ${timeoutMs} ms; stderr: ${stderr}`))
    }, timeoutMs)
    child.on("exit", (code, signal) => {
      clearTimeout(timer)
      child.stdout.on("end", () => resolve({ code, signal, stdout, stderr }))
      if (child.stdout.readableEnded) resolve({ code, signal, stdout, stderr })
    })
  })

/** A long-running `agentos ...args` (the kernel): resolves once `ready` matches its stdout. */
export const start = (args: ReadonlyArray<string>, ready: RegExp, env: NodeJS.ProcessEnv = {}) =>
  new Promise<{ readonly child: ChildProcess.ChildProcess; readonly stdout: () => string; readonly exited: Promise<Finished> }>(
    (resolve, reject) => {
      const child = ChildProcess.spawn(process.execPath, [bin, ...args], {
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let stdout = ""
      let stderr = ""
      const exited = new Promise<Finished>((done) =>
        child.on("exit", (code, signal) => done({ code, signal, stdout, stderr })))
      child.stderr!.on("data", (d) => (stderr += d))
      child.stdout!.on("data", (d) => {
        stdout += d
        if (ready.test(stdout)) resolve({ child, stdout: () => stdout, exited })
      })
      void exited.then((f) => reject(new Error(`agentos ${args.join(" ")} exited early (${f.code}): ${f.stderr}`)))
      setTimeout(() => reject(new Error(`agentos ${args.join(" ")} not ready in 20 s: ${stderr}`)), 20_000).unref()
    }
  )

/**
 * `agentos kernel` on a socket in `dir`, stopped (SIGKILL if it is still up) by the function
 * pushed onto `cleanups`.
 */
export const startKernel = async (dir: string, cleanups: Array<() => unknown>) => {
  const socket = Path.join(dir, "kernel.sock")
  const kernel = await start(["kernel", "--socket", socket], /listening on/)
  cleanups.push(async () => {
    if (kernel.child.exitCode === null && kernel.child.signalCode === null) {
      kernel.child.kill("SIGKILL")
      await kernel.exited
    }
  })
  return { socket, ...kernel }
}
