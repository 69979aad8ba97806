/**
 * What the benchmarks share: flags (each also an environment variable), and servers run as child
 * processes — started until they print their ready line, stopped with SIGTERM then SIGKILL, and
 * every one still running stopped at the end, even after a failure.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const READY_TIMEOUT_MS = 15_000
const STOP_TIMEOUT_MS = 3_000

/** The project's root: servers run from it. */
export const root = fileURLToPath(new URL("../..", import.meta.url))

/** A flag `--name`, or its environment variable set to anything but "" and "0". */
export const flag = (name: string, env: string): boolean =>
  process.argv.includes(`--${name}`) || (process.env[env] !== undefined && process.env[env] !== "" && process.env[env] !== "0")

const children = new Set<ChildProcess.ChildProcess>()

/**
 * Starts `node ...args` and resolves once its stdout matches `ready`; with `profileDir`, under
 * `node --cpu-prof` (the profile named after `name`).
 */
export const start = (
  name: string,
  args: ReadonlyArray<string>,
  ready: RegExp,
  options: { readonly env?: NodeJS.ProcessEnv; readonly profileDir?: string | undefined } = {}
): Promise<ChildProcess.ChildProcess> =>
  new Promise((resolve, reject) => {
    const profileDir = options.profileDir
    const nodeFlags = profileDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}.cpuprofile`]
    const child = ChildProcess.spawn(process.execPath, [...nodeFlags, ...args], {
      cwd: root,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    let settled = false
    const settle = (error: Error | undefined): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (error === undefined) resolve(child)
      else reject(error)
    }
    const timer = setTimeout(
      () => settle(new Error(`starting ${name} server: not ready within ${READY_TIMEOUT_MS} ms\n${stdout}${stderr}`)),
      READY_TIMEOUT_MS
    )
    // Both pipes are read for the child's whole life, so a chatty server never blocks on them.
    child.stdout.setEncoding("utf8").on("data", (text: string) => {
      if (settled) return
      stdout += text
      if (ready.test(stdout)) settle(undefined)
    })
    child.stderr.setEncoding("utf8").on("data", (text: string) => {
      if (!settled) stderr += text
    })
    child.once("error", (e) => settle(new Error(`starting ${name} server: ${e.message}`)))
    child.once("exit", (code, signal) =>
      settle(new Error(`starting ${name} server: exited (${signal ?? `code ${code}`}) before it was ready\n${stdout}${stderr}`))
    )
    // Tracked before readiness, so a server that hangs while starting is still stopped.
    children.add(child)
  })

/** SIGTERM, then SIGKILL after a grace period; resolves once the process is gone. */
export const stop = (child: ChildProcess.ChildProcess): Promise<void> => {
  children.delete(child)
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS)
    child.once("exit", () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill("SIGTERM")
  })
}

/** Stops every server still running. */
export const stopAll = (): Promise<void> => Promise.all([...children].map(stop)).then(() => undefined)

/**
 * Runs a benchmark's `main` with a fresh temporary directory (and, with `--cpu-prof`, a profile
 * directory kept afterwards), then stops every server and removes the directory — on failure
 * and on SIGINT too. A failure is one line on stderr and exit code 1.
 */
export const run = async (
  name: string,
  cpuProf: boolean,
  main: (dir: string, profileDir: string | undefined) => Promise<void>
): Promise<void> => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), `agentos-bench-${name}-`))
  // Kept after the run, unlike the sockets' directory: the profiles are the point of --cpu-prof.
  const profileDir = cpuProf ? Fs.mkdtempSync(Path.join(Os.tmpdir(), `agentos-bench-${name}-prof-`)) : undefined
  const cleanup = async (): Promise<void> => {
    // Stopping a kernel stops any agent still running and removes its cgroups.
    await stopAll()
    Fs.rmSync(dir, { recursive: true, force: true })
  }
  process.once("SIGINT", () => {
    void cleanup().finally(() => process.exit(130))
  })
  try {
    await main(dir, profileDir)
  } catch (e) {
    process.stderr.write(`${name}: ${e instanceof Error ? e.message : String(e)}\n`)
    process.exitCode = 1
  } finally {
    await cleanup()
    // The servers write their profiles as they exit, so this is known only after cleanup.
    if (profileDir !== undefined) process.stderr.write(`${name}: cpu profiles in ${profileDir}: ${Fs.readdirSync(profileDir).join(", ")}\n`)
  }
}
