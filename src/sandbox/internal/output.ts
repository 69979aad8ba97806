/**
 * An agent's stdout and stderr as both launchers hand them to the kernel (NodeLauncher.ts,
 * ProcessLauncher.ts): split into lines, each cut at MAX_LINE so an agent that never prints a
 * newline cannot grow the kernel's memory; the lines that come before anyone listens kept
 * (bounded) for the first listener; both pipes paused together while its log drops a flood.
 */
import type { Readable } from "node:stream"
import type { Launched, Stream } from "../Launcher.ts"

/** The longest line delivered; a longer one arrives in pieces of this many characters. */
export const MAX_LINE = 64 * 1024

/** Lines kept for a listener that has not come yet. */
export const MAX_EARLY_LINES = 4096

/**
 * Splits a byte stream into lines for a listener, cutting over-long lines into MAX_LINE pieces
 * the same way whichever chunks they arrive in (a newline in the chunk that ends one too).
 */
export const lines = (stream: Readable, emit: (line: string) => void): void => {
  let pending = ""
  stream.setEncoding("utf8")
  stream.on("data", (chunk: string) => {
    pending += chunk
    let newline: number
    while ((newline = pending.indexOf("\n")) !== -1) {
      let line = pending.slice(0, newline)
      while (line.length > MAX_LINE) {
        emit(line.slice(0, MAX_LINE))
        line = line.slice(MAX_LINE)
      }
      emit(line)
      pending = pending.slice(newline + 1)
    }
    while (pending.length > MAX_LINE) {
      emit(pending.slice(0, MAX_LINE))
      pending = pending.slice(MAX_LINE)
    }
  })
  stream.on("end", () => {
    if (pending !== "") emit(pending)
    pending = ""
  })
}

/**
 * Reads an agent's two pipes into lines for `Launched.onOutput`, and pauses them for
 * `Launched.pauseOutput`.
 */
export const make = (stdout: Readable, stderr: Readable): Pick<Launched, "onOutput" | "pauseOutput"> => {
  const listeners: Array<(stream: Stream, line: string) => void> = []
  // Lines that arrive before anyone listens (a fast agent prints before its launch has been
  // handed back) are kept for the first listener: no output is lost to that race. Bounded,
  // so a caller that never listens cannot make a flood grow the kernel.
  let early: Array<[Stream, string]> | undefined = []
  const emit = (stream: Stream, line: string) => {
    if (early === undefined) listeners.forEach((l) => l(stream, line))
    else if (early.length < MAX_EARLY_LINES) early.push([stream, line])
  }
  lines(stdout, (line) => emit("stdout", line))
  lines(stderr, (line) => emit("stderr", line))

  // Paused by the kernel while an agent floods past its log's rate limit; unref'd, so a
  // pause never holds the kernel's exit up.
  let resumeTimer: NodeJS.Timeout | undefined
  const pauseOutput = (ms: number) => {
    if (resumeTimer !== undefined) return
    stdout.pause()
    stderr.pause()
    resumeTimer = setTimeout(() => {
      resumeTimer = undefined
      stdout.resume()
      stderr.resume()
    }, ms)
    resumeTimer.unref()
  }

  return {
    onOutput: (listener) => {
      listeners.push(listener)
      if (early === undefined) return
      const replay = early
      early = undefined
      for (const [stream, line] of replay) listener(stream, line)
    },
    pauseOutput
  }
}
