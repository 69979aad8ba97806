/**
 * Figures as a person reads them in a terminal column: durations (`1m15s`), byte sizes
 * (`512K`, `3.0M`, `1.5G`) and percentages. One place, so `agentos ps` and `agentos top` print
 * the same figure the same way. Anything that is not a number (a field the kernel left null,
 * or an older kernel did not send) reads `-`.
 */

/** Milliseconds as `42s`, `1m15s` or `2h5m`. @category constructors */
export const duration = (ms: unknown): string => {
  if (typeof ms !== "number") return "-"
  const s = Math.floor(ms / 1000)
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m${s % 60}s` : `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`
}

const KiB = 1024
const MiB = 1024 * KiB
const GiB = 1024 * MiB

/** Bytes in binary units: `512K` below a mebibyte, `3.0M` below a gibibyte, `1.5G` above. @category constructors */
export const bytes = (n: unknown): string =>
  typeof n !== "number"
    ? "-"
    : n < MiB
    ? `${Math.round(n / KiB)}K`
    : n < GiB
    ? `${(n / MiB).toFixed(1)}M`
    : `${(n / GiB).toFixed(1)}G`

/** A percentage with one decimal below 100 (`0.3`, `12.5`), whole above (`180`). @category constructors */
export const percent = (p: number | null): string =>
  p === null || !Number.isFinite(p) ? "-" : p < 100 ? p.toFixed(1) : String(Math.round(p))

/**
 * CPU time over wall time as a percentage of one core, as ps(1)'s %CPU (200 is two cores busy);
 * null without elapsed time. `agentos top` and the observer compute CPU % with it. @category constructors
 */
export const cpuPercentOf = (cpuUs: number, wallMs: number): number | null =>
  wallMs > 0 ? (Math.max(0, cpuUs) / (wallMs * 1000)) * 100 : null
