/**
 * vitest globalSetup for the rootless parts of the suite, run once before every test file: as
 * root, makes the ordinary test user (with the /etc/subuid and /etc/subgid ranges useradd gives
 * every user) and installs Debian's uidmap (newuidmap/newgidmap) when missing, so that the
 * situations of test/support/situations.ts are real; the user is removed again at the end if
 * this run made it. As an ordinary user it does nothing: the suite then runs as that user.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"

/** The ordinary user the suite runs kernels as when it is root. */
export const TEST_USER = "agentos-test"

const run = (argv: ReadonlyArray<string>): { readonly ok: boolean; readonly output: string } => {
  const r = ChildProcess.spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } })
  return { ok: r.status === 0, output: `${r.stdout ?? ""}${r.stderr ?? ""}`.trim() }
}

const exists = () => Fs.readFileSync("/etc/passwd", "utf8").split("\n").some((l) => l.startsWith(`${TEST_USER}:`))

export default function setup(): (() => void) | undefined {
  if (process.getuid?.() !== 0) return undefined
  const log = (line: string) => process.stderr.write(`[rootless] ${line}\n`)
  if (!Fs.existsSync("/usr/bin/newuidmap") || !Fs.existsSync("/usr/bin/newgidmap")) {
    log("installing uidmap (newuidmap, newgidmap)")
    const installed = run(["apt-get", "install", "-y", "-q", "uidmap"])
    if (!installed.ok) log(`apt-get install uidmap failed (tests of per-agent subordinate uids will say so): ${installed.output.slice(-500)}`)
  }
  const made = !exists()
  if (made) {
    const added = run(["useradd", "--create-home", "--shell", "/bin/sh", TEST_USER])
    if (!added.ok) {
      log(`useradd ${TEST_USER} failed: ${added.output}`)
      return undefined
    }
  }
  // useradd gives a range where login.defs says so; make sure there is one either way.
  const has = (file: string) => Fs.existsSync(file) && Fs.readFileSync(file, "utf8").split("\n").some((l) => l.startsWith(`${TEST_USER}:`))
  if (!has("/etc/subuid") || !has("/etc/subgid")) run(["usermod", "--add-subuids", "300000-365535", "--add-subgids", "300000-365535", TEST_USER])
  return () => {
    if (!made) return
    // Its processes are the suite's own kernels and agents, all stopped by now.
    const removed = run(["userdel", "--remove", TEST_USER])
    if (!removed.ok) log(`userdel ${TEST_USER}: ${removed.output}`)
  }
}
