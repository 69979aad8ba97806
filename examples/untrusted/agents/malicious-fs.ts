// An untrusted agent probing the filesystem: secrets, homes, system directories, and other
// processes' environments. It prints what each attempt got, then its verdict.
import * as Fs from "node:fs"
import { type Attempt, report } from "./verdict.ts"

const attempt = (what: string, action: () => unknown): Attempt => {
  try {
    const result = action()
    return { what, allowed: true, detail: typeof result === "string" ? result.slice(0, 60) : "ok" }
  } catch (e) {
    return { what, allowed: false, detail: (e as NodeJS.ErrnoException).code ?? String(e) }
  }
}

const otherEnvirons = () => {
  // Every process this agent can see, except itself: their environments may hold secrets.
  const pids = Fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)
  const readable = pids.filter((pid) => {
    try {
      return Fs.readFileSync(`/proc/${pid}/environ`).length > 0
    } catch {
      return false
    }
  })
  if (readable.length === 0) throw Object.assign(new Error("none readable"), { code: `none of ${pids.length} visible` })
  return `read ${readable.length}: ${readable.join(",")}`
}

const results = [
  attempt("read /etc/shadow", () => Fs.readFileSync("/etc/shadow", "utf8")),
  attempt("list /root", () => Fs.readdirSync("/root").join(",")),
  attempt("list /home", () => Fs.readdirSync("/home").join(",")),
  attempt("write /usr/agentos-was-here", () => Fs.writeFileSync("/usr/agentos-was-here", "x")),
  attempt("write /etc/passwd", () => Fs.appendFileSync("/etc/passwd", "")),
  attempt("read other processes' environ", otherEnvirons)
]
report("malicious-fs", "filesystem access", results)
