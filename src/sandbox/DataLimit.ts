/**
 * RLIMIT_DATA where the launcher's watchdog holds a memory limit: the backstop against a burst
 * between two looks of the watchdog. It counts private writable mappings, reserved or not, and
 * the watchdog counts resident pages (Pss), file-backed ones too, so for a runtime that
 * reserves much before it runs (V8's code range: ~520 MiB in Node 24) the limit is what it
 * reserves but never touches, plus 1.1× the memory limit, less the file-backed pages it keeps
 * resident: then no single process gets past 1.1× its limit however fast it allocates.
 */
import * as ChildProcess from "node:child_process"

/** What a runtime holds before it runs anything. @category models */
export interface Baseline {
  /** Private writable mappings not resident (VmData − RssAnon). */
  readonly reservedBytes: number
  /** Its file-backed resident share (Pss_File), which Pss counts and RLIMIT_DATA does not. */
  readonly filePssBytes: number
}

/** Nothing reserved (a program that does not reserve ahead: sh, Python, most C). @category constructors */
export const none: Baseline = { reservedBytes: 0, filePssBytes: 0 }

/**
 * Measures a Node binary's baseline by running it once (what an idle `node -e` holds); what a
 * reservation failure should not do (a hang) it cannot: bounded by a timeout, falling back to a
 * generous 1 GiB reservation.
 * @category constructors
 */
export const measureNode = (node: string): Baseline => {
  const script = "const f=require('fs');const s=f.readFileSync('/proc/self/status','utf8');const r=f.readFileSync('/proc/self/smaps_rollup','utf8');" +
    "const k=(t,n)=>Number(new RegExp(n+':\\\\s+(\\\\d+)').exec(t)[1])*1024;" +
    "process.stdout.write(JSON.stringify([k(s,'VmData'),k(s,'RssAnon'),k(r,'Pss_File')]))"
  try {
    const [data, anon, file] = JSON.parse(ChildProcess.execFileSync(node, ["-e", script], { encoding: "utf8", timeout: 10_000 })) as [number, number, number]
    return { reservedBytes: Math.max(0, data - anon), filePssBytes: file }
  } catch {
    return { reservedBytes: 1024 * 1024 * 1024, filePssBytes: 0 }
  }
}

/** RLIMIT_DATA for a memory limit held by the watchdog. @category constructors */
export const forLimit = (limitBytes: number, baseline: Baseline = none): number =>
  baseline.reservedBytes + Math.max(Math.ceil(limitBytes * 1.1) - baseline.filePssBytes, Math.ceil(limitBytes / 2))
