/**
 * One line of an agent's log as the kernel keeps it and LOGS returns it, and the one way it is
 * written for people: in the log files and by `agentos logs`. Shared by the kernel (AgentLogs)
 * and the CLI, so both read the same.
 */
import * as TerminalText from "../text/TerminalText.ts"

/** One line of an agent's log. `seq` numbers the lines of a name from 1, markers included. @category models */
export interface LogEntry {
  readonly seq: number
  /** When the kernel read it, ms since the epoch. */
  readonly time: number
  readonly name: string
  /** The incarnation's agent id (`a7`). */
  readonly id: string
  /** The incarnation: its supervisor's restart count when it started (0 for the first). */
  readonly incarnation: number
  readonly stream: "stdout" | "stderr" | "log"
  readonly line: string
}

/** A line as an agent produced it, before the log numbers it. @category models */
export type LogLine = Omit<LogEntry, "seq">

/** Longest line kept, in UTF-16 units: the launcher already cuts stdout/stderr lines here; LOG records are cut too. @category models */
export const MAX_LINE = 64 * 1024

/** What the marker after a rate-limited stretch says. @category constructors */
export const droppedMarker = (count: number): string => `agentos: ${count} lines dropped (rate limit)`

/**
 * One entry as people read it: ISO time, `name#incarnation`, the stream when it is not stdout
 * (marked as `agentos boot` marks it), then the line with CR and LF escaped, so that one entry
 * is always one line, and no control character but colours (TerminalText). @category constructors
 */
export const format = (entry: LogEntry): string => {
  const mark = entry.stream === "stdout" ? "" : `(${entry.stream}) `
  const line = entry.line.includes("\n") || entry.line.includes("\r")
    ? entry.line.replaceAll("\r", "\\r").replaceAll("\n", "\\n")
    : entry.line
  return `${new Date(entry.time).toISOString()} ${entry.name}#${entry.incarnation} ${mark}${TerminalText.printable(line)}`
}
