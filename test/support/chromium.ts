/**
 * Test support: the headless Chromium the browser tests drive through playwright-core. It is
 * Debian's `chromium` package, not a browser playwright downloads: found at /usr/bin/chromium
 * (or $AGENTOS_CHROMIUM), and installed with apt-get when missing and we are root. Installing
 * is done once per test run, from the vitest globalSetup (chromiumSetup.ts), so test files
 * running in parallel never race two apt-gets.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"

/** Where Debian (and Ubuntu's older package) put the browser; $AGENTOS_CHROMIUM first. */
const candidates = (): ReadonlyArray<string> => [
  ...(process.env.AGENTOS_CHROMIUM === undefined ? [] : [process.env.AGENTOS_CHROMIUM]),
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser"
]

/** The outcome of looking for (and maybe installing) Chromium. */
export interface Found {
  /** The executable, or null when there is none. */
  readonly path: string | null
  /** Why there is none, and how to get one; null when found. */
  readonly problem: string | null
}

/** How a user gets the browser by hand. */
export const howToInstall =
  "the browser tests need Debian's chromium: run `apt-get install -y --no-install-recommends chromium` as root " +
  "(or set AGENTOS_CHROMIUM to a Chromium executable)"

const executable = (path: string): boolean => {
  try {
    Fs.accessSync(path, Fs.constants.X_OK)
    return Fs.statSync(path).isFile()
  } catch {
    return false
  }
}

/** The Chromium executable, if one is installed. */
export const find = (): string | undefined => candidates().find(executable)

const hasAptGet = (): boolean => executable("/usr/bin/apt-get")

const aptGet = (args: ReadonlyArray<string>): { readonly ok: boolean; readonly output: string } => {
  const result = ChildProcess.spawnSync("/usr/bin/apt-get", args, {
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    encoding: "utf8",
    // apt's progress is long; only its tail is worth reporting.
    maxBuffer: 64 * 1024 * 1024
  })
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}${result.error === undefined ? "" : String(result.error)}`
  return { ok: result.status === 0, output: output.trim().split("\n").slice(-5).join("\n") }
}

/**
 * Finds Chromium, installing it first when it is missing and this process may (root, with
 * apt-get). The package index is refreshed only when the first attempt fails, since a stale
 * or absent index is the usual reason.
 */
export const ensure = (log: (line: string) => void = () => {}): Found => {
  const existing = find()
  if (existing !== undefined) return { path: existing, problem: null }
  if (process.getuid?.() !== 0) return { path: null, problem: `chromium is not installed and we are not root to install it; ${howToInstall}` }
  if (!hasAptGet()) return { path: null, problem: `chromium is not installed and there is no apt-get; ${howToInstall}` }
  const install = ["install", "-y", "--no-install-recommends", "chromium"]
  log("installing Debian's chromium for the browser tests (apt-get, once)...")
  let attempt = aptGet(install)
  if (!attempt.ok) {
    log("apt-get install failed; running apt-get update and trying again...")
    const update = aptGet(["update"])
    if (!update.ok) return { path: null, problem: `apt-get update failed:\n${update.output}\n${howToInstall}` }
    attempt = aptGet(install)
  }
  const installed = find()
  if (!attempt.ok || installed === undefined) {
    return { path: null, problem: `apt-get install chromium failed:\n${attempt.output}\n${howToInstall}` }
  }
  log(`chromium installed at ${installed}`)
  return { path: installed, problem: null }
}
