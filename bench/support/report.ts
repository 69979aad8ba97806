/** How the benchmarks print: the machine they ran on, figures, and aligned tables. */
import * as Os from "node:os"

/** The machine and its load, printed with every run (figures mean little without them). */
export const machine = () => ({
  node: process.version,
  cpu: Os.cpus()[0]?.model.trim() ?? "unknown",
  cores: Os.availableParallelism(),
  os: `${Os.type()} ${Os.release()} ${Os.arch()}`,
  loadavg: Os.loadavg().map((l) => Number(l.toFixed(2)))
})

export const us = (n: number): string => n.toFixed(1)
export const perSecond = (n: number): string => Math.round(n).toLocaleString("en-US")

/** Rows as columns: the first left-aligned, the rest right-aligned. */
export const table = (rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)))
  return rows
    .map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  "))
    .join("\n")
}
