/**
 * agentos-launch against the real kernel: namespaces, cgroups (whatever layout this machine
 * has: v2, v1 or hybrid), seccomp and the status protocol of docs/launcher.md. Each isolation
 * property is asserted from inside the sandbox by an agent that reports what it saw on its
 * stdout; the host side only adds what is visible from outside (the agent's host uid, leftover
 * processes and cgroups). Needs root (uid maps, cgroups); everything is released in afterEach.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as LaunchSpec from "../../src/sandbox/LaunchSpec.ts"
import type * as LaunchStatus from "../../src/sandbox/LaunchStatus.ts"
import * as Launch from "../support/launch.ts"
import * as Cleanups from "../support/cleanups.ts"

const cleanups = Cleanups.perTest()
afterAll(async () => {
  if (Launch.isRoot) await Launch.removeCgroup(Launch.cgroupParent)
})

const MiB = 1024 * 1024
const layout = Launch.isRoot ? Launch.cgroupHierarchies().layout : "none"

const start = (spec: LaunchSpec.LaunchSpec | Buffer, as?: { uid: number; gid: number }): Launch.Launch => {
  const launched = Launch.launch(spec, as)
  cleanups.push(launched.release)
  return launched
}

const tempDir = (): string => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "agentos-launch-"))
  // The agent is another uid: it must be able to walk down to its grants.
  Fs.chmodSync(dir, 0o755)
  cleanups.push(() => Fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

const listen = async (server: Net.Server, ...args: Array<unknown>): Promise<Net.Server> => {
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    ;(server.listen as (...a: Array<unknown>) => void)(...args, () => resolve())
  })
  return server
}

let agents = 0
type Spec = LaunchSpec.LaunchSpec & { readonly uid: number; readonly cgroup: string }
const specFor = (overrides: Partial<LaunchSpec.LaunchSpec> = {}): Spec => {
  const id = Launch.agentId()
  return {
    ...LaunchSpec.make(["/bin/true"], { rlimits: {} }),
    uid: id,
    gid: id,
    cgroup: `${Launch.cgroupParent}/agent-${agents++}`,
    ...overrides
  }
}

const sh = (script: string): Array<string> => ["/bin/sh", "-c", script]

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** What every launch must leave behind: nothing. */
const expectNothingLeft = (spec: Spec, started?: LaunchStatus.Started) => {
  expect(Launch.processesOf(spec.uid)).toEqual([])
  for (const path of Object.values(started?.cgroups ?? {})) expect(Fs.existsSync(path)).toBe(false)
  for (const root of Launch.cgroupHierarchies().roots) expect(Fs.existsSync(Path.join(root, spec.cgroup))).toBe(false)
}

describe.skipIf(!Launch.isRoot)(`agentos-launch as root${Launch.isRoot ? "" : " (skipped: needs root: host uids of its range, cgroups at each hierarchy's root; test/adversarial/containment.test.ts runs it unprivileged)"}`, () => {
  it("runs the agent as PID 2 under init, root inside without capabilities, its own uid outside", async () => {
    const spec = specFor({
      argv: sh(`
        echo pid=$$
        echo ppid=$PPID
        echo uid=$(id -u)
        grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status | sed 's/:[[:space:]]*/=/'
        echo sid=$(cut -d' ' -f6 /proc/self/stat)
        echo hostname=$(cat /proc/sys/kernel/hostname)
        echo nested=$(unshare -U true 2>&1)
        echo cgroups=$(tr '\\n' ' ' < /proc/self/cgroup)
        echo ready=1
        exec head -n 1 <&3 >/dev/null
      `)
    })
    const l = start(spec)
    const isolation = await l.record("isolation")
    expect(isolation).toEqual({
      _tag: "isolation",
      namespaces: ["pid", "mount", "net", "uts", "ipc", "user"],
      cgroup: layout,
      seccomp: true,
      userns: true,
      landlock: 0,
      idmap: "root",
      memory: "none",
      cpu: "none",
      pids: "none"
    })
    const started = await l.record("started")
    await l.output(/^ready=1$/m)
    // The shell's own fds come and go with its redirections: look once it has exec'd `head`,
    // which holds exactly what the launcher left open (0 is fd 3 dup'ed by `<&3`).
    for (let i = 0; Fs.readFileSync(`/proc/${started.pid}/comm`, "utf8").trim() !== "head"; i++) {
      if (i > 400) throw new Error("the agent never exec'd head")
      await sleep(5)
    }

    // From the host: the agent is its own uid/gid, pid 2 of a new PID namespace, fds 0-3 only.
    const status = Fs.readFileSync(`/proc/${started.pid}/status`, "utf8")
    expect(status).toMatch(new RegExp(`^Uid:\\s+${spec.uid}\\s+${spec.uid}\\s+${spec.uid}\\s+${spec.uid}$`, "m"))
    expect(status).toMatch(new RegExp(`^Gid:\\s+${spec.uid}\\s+${spec.uid}\\s+${spec.uid}\\s+${spec.uid}$`, "m"))
    expect(status).toMatch(new RegExp(`^NSpid:\\s+${started.pid}\\s+2$`, "m"))
    // Just after the exec the dynamic loader briefly holds a library open (fd 4): what the
    // launcher left open is what stays.
    let fds: Array<string> = []
    for (let i = 0; i < 200; i++) {
      fds = Fs.readdirSync(`/proc/${started.pid}/fd`).sort()
      if (fds.join() === "0,1,2,3") break
      await sleep(10)
    }
    expect(fds).toEqual(["0", "1", "2", "3"])
    expect(Fs.readFileSync(`/proc/${started.init}/status`, "utf8")).toMatch(/^NSpid:\s+\d+\s+1$/m)
    l.agent.write("go\n")
    expect((await Launch.ended(l)).code).toBe(0)

    // From inside.
    const seen = Launch.report(l.stdout())
    expect(seen).toMatchObject({
      pid: "2",
      ppid: "1",
      uid: "0",
      CapInh: "0000000000000000",
      CapPrm: "0000000000000000",
      CapEff: "0000000000000000",
      CapBnd: "0000000000000000",
      CapAmb: "0000000000000000",
      NoNewPrivs: "1",
      Seccomp: "2",
      sid: "2",
      hostname: "agent"
    })
    expect(seen.nested).toMatch(/Operation not permitted/)
    // In its cgroup before any of its code ran: the shell was born there.
    if (layout === "v2") expect(seen.cgroups).toContain(`0::/${spec.cgroup}`)
    if (layout === "v1" || layout === "hybrid") {
      for (const controller of ["memory", "pids"]) expect(seen.cgroups).toContain(`:${controller}:/${spec.cgroup}`)
    }
    expectNothingLeft(spec, started)
  })

  it("shows a read-only host: secrets unreadable, homes absent, writes only in workdir, rw grants and /tmp", async () => {
    const dir = tempDir()
    const [work, rw, ro] = ["work", "rw", "ro"].map((name) => Path.join(dir, name)) as [string, string, string]
    const sockets = Path.join(ro, "sockets")
    for (const d of [work, rw, ro, sockets]) Fs.mkdirSync(d, { mode: 0o755 })
    Fs.writeFileSync(Path.join(ro, "data.txt"), "granted\n", { mode: 0o644 })
    const spec = specFor({ workdir: work, readWrite: [rw], readOnly: [ro], tmpfs: [sockets], tmpSizeBytes: 8 * MiB })
    for (const d of [work, rw]) Fs.chownSync(d, spec.uid, spec.uid)
    // A host socket inside a granted directory that the spec covers with a tmpfs.
    const hostSocket = Path.join(sockets, "kernel.sock")
    await listen(Net.createServer(), hostSocket)

    const l = start({
      ...spec,
      argv: sh(`
        check() { name=$1; shift; if "$@" >/dev/null 2>/tmp/err; then echo "$name=ok"; else echo "$name=$(head -n 1 /tmp/err)"; fi; }
        check shadow cat /etc/shadow
        check home ls /home
        check root ls /root
        check etc touch /etc/agentos-probe
        check usr touch /usr/bin/agentos-probe
        check top touch /agentos-probe
        check ro touch ${ro}/probe
        check roread cat ${ro}/data.txt
        check work sh -c 'echo w > ${work}/probe'
        check rw sh -c 'echo w > ${rw}/probe'
        check tmp sh -c 'echo w > /tmp/probe'
        echo cwd=$(pwd)
        echo run=$(ls -A /run | wc -l),$(ls -A /var/run | wc -l)
        echo sockets=$(ls -A ${sockets} | wc -l)
        echo tmpmount=$(grep ' /tmp ' /proc/mounts)
        echo dev=$(ls /dev | tr '\\n' ' ')
      `)
    })
    const started = await l.record("started")
    expect((await Launch.ended(l)).code).toBe(0)
    const seen = Launch.report(l.stdout())
    expect(seen.shadow).toMatch(/Permission denied/)
    expect(seen.home).toMatch(/No such file or directory/)
    expect(seen.root).toMatch(/No such file or directory/)
    for (const key of ["etc", "usr", "top", "ro"]) expect(seen[key]).toMatch(/Read-only file system/)
    expect(seen).toMatchObject({ roread: "ok", work: "ok", rw: "ok", tmp: "ok", cwd: work, run: "0,0", sockets: "0" })
    expect(seen.tmpmount).toMatch(/^tmpfs \/tmp tmpfs rw,.*size=8192k/)
    expect(seen.dev!.split(" ").filter(Boolean).sort()).toEqual(
      ["fd", "full", "null", "random", "shm", "stderr", "stdin", "stdout", "tty", "urandom", "zero"]
    )
    // The writes landed on the host as the agent's uid; nothing reached the read-only grant.
    expect(Fs.statSync(Path.join(work, "probe")).uid).toBe(spec.uid)
    expect(Fs.statSync(Path.join(rw, "probe")).uid).toBe(spec.uid)
    expect(Fs.existsSync(Path.join(ro, "probe"))).toBe(false)
    expect(Fs.existsSync(hostSocket)).toBe(true)
    expectNothingLeft(spec, started)
  })

  it("puts the workdir at workdir.at; the directories on the way to a grant are passable, never listable", async () => {
    const dir = tempDir()
    const work = Path.join(dir, "state", "k1", "agent")
    const grant = Path.join(dir, "home", "someone", "project")
    Fs.mkdirSync(work, { recursive: true })
    Fs.mkdirSync(grant, { recursive: true })
    Fs.writeFileSync(Path.join(grant, "file"), "x", { mode: 0o644 })
    // A state directory only its owner may walk: the launcher opens the workdir before the
    // sandbox becomes the agent's uid.
    Fs.chmodSync(Path.join(dir, "state"), 0o700)
    const spec = specFor({ workdir: work, workdirAt: "/agent", readOnly: [grant] })
    Fs.chownSync(work, spec.uid, spec.uid)
    const l = start({
      ...spec,
      argv: sh(`
        check() { name=$1; shift; if out=$("$@" 2>&1); then echo "$name=ok $out"; else echo "$name=$out"; fi; }
        echo cwd=$(pwd) home=$HOME
        check write sh -c 'echo w > /agent/probe'
        check listparent ls ${Path.dirname(grant)}
        check listgrandparent ls ${Path.dirname(Path.dirname(grant))}
        check listgrant ls ${grant}
        check hostpath ls ${work}
      `),
      env: { PATH: "/usr/bin:/bin", HOME: "/agent" }
    })
    expect((await Launch.ended(l)).code).toBe(0)
    const seen = Launch.report(l.stdout())
    expect(seen.cwd).toBe("/agent home=/agent")
    expect(seen.write).toMatch(/^ok/)
    expect(Fs.readFileSync(Path.join(work, "probe"), "utf8")).toBe("w\n")
    expect(seen.listparent).toMatch(/Permission denied/)
    expect(seen.listgrandparent).toMatch(/Permission denied/)
    expect(seen.listgrant).toBe("ok file")
    expect(seen.hostpath).toMatch(/No such file or directory/)
  })

  it("never binds through a symbolic link: a workdir subdirectory swapped for one cannot redirect a grant", async () => {
    const dir = tempDir()
    const work = Path.join(dir, "work")
    Fs.mkdirSync(work)
    // What an earlier incarnation could leave in its workdir: a link where a directory was.
    Fs.symlinkSync("/etc", Path.join(work, "cache"))
    const spec = specFor({ workdir: work, readWrite: [Path.join(work, "cache")] })
    const l = start(spec)
    const error = await l.record("error")
    expect(error).toMatchObject({ step: "mount", errno: 40 })
    expect(error.message).toMatch(/cache: a component of the path is a symbolic link/)
    expect((await l.exit).code).toBe(127)
    expectNothingLeft(spec)
  })

  it.each([
    { what: "landlock beside a mount namespace", extra: "landlock=on\0", match: /landlock=on replaces the mount namespace/ },
    { what: "workdir.at without a workdir", extra: "workdir.at=/agent\0", match: /workdir\.at needs workdir/ },
    { what: "cgroup.root without a cgroup", extra: "cgroup.root=/sys/fs/cgroup/x\0", match: /cgroup\.root needs cgroup/ }
  ])("refuses $what: error step=spec", async ({ extra, match }) => {
    const { cgroup: _cgroup, ...spec } = specFor()
    const l = start(Buffer.concat([LaunchSpec.encode(spec), Buffer.from(extra)]))
    const error = await l.record("error")
    expect(error).toMatchObject({ step: "spec", errno: 22 })
    expect(error.message).toMatch(match)
  })

  it("net=none: only lo, up; host TCP, abstract and tmpfs-covered Unix sockets unreachable", async () => {
    const dir = tempDir()
    const hidden = Path.join(dir, "hidden")
    const visible = Path.join(dir, "visible")
    for (const d of [hidden, visible]) Fs.mkdirSync(d, { mode: 0o755 })
    const connections: Array<string> = []
    const tcp = await listen(Net.createServer((s) => (connections.push("tcp"), s.destroy())), 0, "127.0.0.1")
    const abstractName = `agentos-launch-test-${process.pid}-${agents}`
    await listen(Net.createServer((s) => (connections.push("abstract"), s.destroy())), `\0${abstractName}`)
    const hiddenPath = Path.join(hidden, "kernel.sock")
    const visiblePath = Path.join(visible, "kernel.sock")
    await listen(Net.createServer((s) => (connections.push("hidden"), s.destroy())), hiddenPath)
    await listen(Net.createServer((s) => s.destroy()), visiblePath)
    for (const p of [hiddenPath, visiblePath]) Fs.chmodSync(p, 0o777)
    const probe = Path.join(dir, "probe.cjs")
    Fs.writeFileSync(
      probe,
      `const net = require("node:net"), fs = require("node:fs")
       const [port, abstractName, hiddenPath, visiblePath] = process.argv.slice(2)
       const attempt = (options) => new Promise((resolve) => {
         const s = net.connect(options)
         s.on("connect", () => { s.destroy(); resolve("connected") })
         s.on("error", (e) => resolve(e.code))
       })
       ;(async () => {
         const interfaces = fs.readFileSync("/proc/net/dev", "utf8").split("\\n").slice(2)
           .map((line) => line.split(":")[0].trim()).filter(Boolean)
         const own = net.createServer((s) => s.end())
         const loopback = await new Promise((resolve) => {
           own.once("error", (e) => resolve(e.code))
           own.listen(0, "127.0.0.1", () => attempt({ host: "127.0.0.1", port: own.address().port }).then(resolve))
         })
         own.close()
         console.log(JSON.stringify({
           interfaces, loopback,
           tcp: await attempt({ host: "127.0.0.1", port: Number(port) }),
           abstract: await attempt({ path: "\\0" + abstractName }),
           hidden: await attempt({ path: hiddenPath }),
           hiddenDir: fs.readdirSync(require("node:path").dirname(hiddenPath)),
           visible: await attempt({ path: visiblePath })
         }))
       })()`,
      { mode: 0o644 }
    )
    const port = (tcp.address() as Net.AddressInfo).port
    const spec = specFor({
      argv: [process.execPath, probe, String(port), abstractName, hiddenPath, visiblePath],
      // node lives below the project; the probe and both socket directories below `dir`.
      readOnly: [Launch.projectRoot, dir],
      tmpfs: [hidden]
    })
    const l = start(spec)
    const started = await l.record("started")
    expect((await Launch.ended(l)).code).toBe(0)
    expect(JSON.parse(l.stdout())).toEqual({
      interfaces: ["lo"],
      // Without a network an agent may make no AF_INET socket at all (seccomp), lo or not.
      loopback: "EPERM",
      tcp: "EPERM",
      abstract: "ECONNREFUSED",
      hidden: "ENOENT",
      hiddenDir: [],
      // The same kind of socket in a granted directory without a tmpfs is reachable: the
      // tmpfs, not the network namespace, is what hides path sockets.
      visible: "connected"
    })
    expect(connections).toEqual([])
    expectNothingLeft(spec, started)
  })

  it("stops a fork bomb at pids.max and reports pids_limit", async () => {
    const spec = specFor({
      pidsMax: 16,
      argv: sh(`i=0; while [ $i -lt 64 ]; do sleep 1000 & i=$((i+1)); done; echo spawned=$i`)
    })
    const l = start(spec)
    const started = await l.record("started")
    const end = await Launch.ended(l)
    expect(end.pidsLimit).toBe(true)
    expect(l.stdout()).not.toMatch(/spawned=64/)
    expect(l.stderr()).toMatch(/fork/i)
    expectNothingLeft(spec, started)
  })

  it("OOM-kills a memory hog at memory.max and reports oom with signal 9", async () => {
    const spec = specFor({
      memoryMax: 50 * MiB,
      // The shell itself grows: command substitution keeps all 200 MB of output.
      argv: sh(`x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived=\${#x}`)
    })
    const l = start(spec)
    const started = await l.record("started")
    const end = await Launch.ended(l)
    expect(end).toMatchObject({ signal: 9, oom: true })
    expect(end.peakBytes).toBeGreaterThan(30 * MiB)
    expect(end.peakBytes).toBeLessThanOrEqual(50 * MiB)
    expect(l.stdout()).not.toMatch(/survived/)
    expectNothingLeft(spec, started)
  })

  it("throttles a CPU hog at cpu.max and reports the throttled time", async () => {
    const spec = specFor({ cpuMax: { quotaUs: 10000, periodUs: 100000 }, argv: sh("while :; do :; done") })
    const l = start(spec)
    const started = await l.record("started")
    await sleep(1500)
    process.kill(l.child.pid!, "SIGTERM")
    const end = await Launch.ended(l)
    expect(end.signal).toBe(15)
    expect(end.throttledUs).toBeGreaterThan(0)
    expect(end.nrThrottled).toBeGreaterThanOrEqual(3)
    // 10% of ~1.5 s; unthrottled it would be ~1.5 s.
    expect(end.cpuUs).toBeGreaterThan(0)
    expect(end.cpuUs).toBeLessThan(600_000)
    expectNothingLeft(spec, started)
  })

  it("reaps orphaned zombies as PID 1 and ends every process of the namespace with the agent", async () => {
    const spec = specFor({
      argv: sh(`
        for i in 1 2 3 4 5; do ( sleep 0.05 & ) ; done
        sleep 0.5
        zombies=0
        for s in /proc/[0-9]*/stat; do [ "$(cut -d' ' -f3 "$s" 2>/dev/null)" = Z ] && zombies=$((zombies+1)); done
        echo zombies=$zombies
        sleep 1000 &
        echo background=$!
      `)
    })
    const l = start(spec)
    const started = await l.record("started")
    const end = await Launch.ended(l)
    expect(end).toMatchObject({ code: 0, signal: 0 })
    const seen = Launch.report(l.stdout())
    expect(seen.zombies).toBe("0")
    expect(Number(seen.background)).toBeGreaterThan(2)
    // The background `sleep 1000` died with the namespace: no process of the uid is left.
    expectNothingLeft(spec, started)
  })

  it("forwards SIGTERM to the agent", async () => {
    const spec = specFor({
      argv: sh(`trap 'echo terminated=1; exit 7' TERM; echo ready=1; while :; do sleep 0.05; done`)
    })
    const l = start(spec)
    const started = await l.record("started")
    await l.output(/^ready=1$/m)
    process.kill(l.child.pid!, "SIGTERM")
    expect(await Launch.ended(l)).toMatchObject({ code: 7, signal: 0 })
    expect(l.stdout()).toMatch(/^terminated=1$/m)
    expectNothingLeft(spec, started)
  })

  it("SIGKILLs the whole namespace kill_timeout_ms after a SIGTERM the agent ignores", async () => {
    const spec = specFor({
      killTimeoutMs: 300,
      argv: sh(`trap '' TERM; sleep 1000 & echo ready=1; while :; do sleep 0.05; done`)
    })
    const l = start(spec)
    const started = await l.record("started")
    await l.output(/^ready=1$/m)
    const sent = process.hrtime.bigint()
    process.kill(l.child.pid!, "SIGTERM")
    const end = await Launch.ended(l)
    const waitedMs = Number(process.hrtime.bigint() - sent) / 1e6
    expect(end).toMatchObject({ code: 0, signal: 9 })
    expect(waitedMs).toBeGreaterThanOrEqual(290)
    expectNothingLeft(spec, started)
  })

  it("without root falls back to the caller's uid mapped to 0 in a user namespace, without cgroups", async () => {
    const nobody = 65534
    // No uid: an unprivileged launcher given one maps it through newuidmap (the user's /etc/subuid range).
    const { uid: _uid, gid: _gid, ...unprivileged } = specFor({
      argv: sh(`
        echo pid=$$
        echo uid=$(id -u)
        grep -E '^(CapEff|Seccomp):' /proc/self/status | sed 's/:[[:space:]]*/=/'
        echo ready=1
        exec head -n 1 <&3 >/dev/null
      `)
    })
    const spec = { ...unprivileged, uid: _uid }
    const l = start(unprivileged, { uid: nobody, gid: nobody })
    expect(await l.record("isolation")).toEqual({
      _tag: "isolation",
      namespaces: ["pid", "mount", "net", "uts", "ipc", "user"],
      cgroup: "none",
      seccomp: true,
      userns: true,
      landlock: 0,
      idmap: "self",
      memory: "none",
      cpu: "none",
      pids: "none"
    })
    const started = await l.record("started")
    expect(started.cgroups).toEqual({})
    await l.output(/^ready=1$/m)
    expect(Fs.readFileSync(`/proc/${started.pid}/status`, "utf8")).toMatch(/^Uid:\s+65534\s+65534\s+65534\s+65534$/m)
    l.agent.write("go\n")
    expect((await Launch.ended(l)).code).toBe(0)
    expect(Launch.report(l.stdout())).toMatchObject({ pid: "2", uid: "0", CapEff: "0000000000000000", Seccomp: "2" })
    // nobody may own unrelated processes here: check the sandbox's own pids instead of the uid.
    for (const pid of [started.pid, started.init]) expect(Fs.existsSync(`/proc/${pid}`)).toBe(false)
    expectNothingLeft(spec, started)
  })

  it("rejects a spec with an unknown key: error step=spec, exit 127, nothing created", async () => {
    const spec = specFor()
    const l = start(Buffer.concat([LaunchSpec.encode(spec), Buffer.from("memory.maxx=1\0")]))
    const error = await l.record("error")
    expect(error).toMatchObject({ step: "spec", errno: 22 })
    expect(error.message).toMatch(/memory\.maxx/)
    expect((await l.exit).code).toBe(127)
    expect(l.records.map((r) => r._tag)).toEqual(["error"])
    expectNothingLeft(spec)
  })

  it.each([
    { step: "exec", errno: 2, overrides: { argv: ["/nonexistent/agent"] } },
    { step: "mount", errno: 2, overrides: { readOnly: ["/nonexistent/grant"] } }
  ])("reports a failed $step step as error step=$step and cleans up after the clone", async ({ step, errno, overrides }) => {
    const spec = specFor(overrides)
    const l = start(spec)
    const error = await l.record("error")
    expect(error).toMatchObject({ step, errno })
    expect((await l.exit).code).toBe(127)
    expect(l.records.map((r) => r._tag)).toEqual(["isolation", "error"])
    expectNothingLeft(spec)
  })
})
