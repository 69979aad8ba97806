/**
 * One agent name's log file, `<dir>/<name>.log`, rotated by size like logrotate's `size` and
 * `rotate N`: when the next line would take it past `maxBytes`, `name.log.(N-1)` becomes
 * `name.log.N` (the oldest is overwritten, so removed), …, `name.log` becomes `name.log.1`.
 * Lines are queued synchronously and written later, in batches, by one writer fiber, so a
 * slow disk never holds up the kernel's event loop. The queue is bounded in bytes: past it a
 * line is dropped from the file (the memory ring still has it) and counted, and the file gets a
 * line saying so at its next write. A failing disk (ENOSPC, EACCES) is reported once per cause
 * until a write succeeds again, never fatal.
 */
import { Data, Effect } from "effect"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"

/** How a file is kept. @category models */
export interface Options {
  readonly dir: string
  /** A file is rotated before a line would take it past this size (one line alone may). */
  readonly maxBytes: number
  /** Rotated files kept: `name.log.1` … `name.log.N`; 0 truncates instead. */
  readonly files: number
  /** Bytes queued for the disk at most; past it, lines are dropped from the file. */
  readonly pendingBytes: number
}

/** A step of writing a log file failed. @category errors */
export class LogFileError extends Data.TaggedError("LogFileError")<{
  readonly step: "stat" | "rotate" | "append"
  readonly path: string
  readonly code: string
  readonly message: string
}> {}

const fileError = (step: LogFileError["step"], path: string) => (cause: unknown) => {
  const code = (cause as NodeJS.ErrnoException).code ?? "EIO"
  return new LogFileError({ step, path, code, message: `${step} ${path}: ${(cause as Error).message ?? String(cause)}` })
}

/** A queued line: its text (with its newline) and its UTF-8 size. */
interface Queued {
  readonly text: string
  readonly bytes: number
  /** For the line about missed lines: how many it reports. */
  readonly reports?: number
}

/** Where a name's live log file is. @category constructors */
export const pathOf = (dir: string, name: string): string => Path.join(dir, `${name}.log`)

/** The path of rotated file `n` (0 is the live file). @category constructors */
export const rotated = (path: string, n: number): string => (n === 0 ? path : `${path}.${n}`)

/** One name's file: its queue and counters. The writer fiber drains it with `flush`. @category models */
export class LogFile {
  readonly name: string
  readonly path: string
  readonly options: Options
  /** The live file's size as last known; undefined until read from the disk (or after an error). */
  size: number | undefined = undefined
  private queue: Array<Queued> = []
  private queuedBytes = 0
  /** Lines the file never got, over its life. */
  private missed = 0
  /** Lines missed since the file last said so. */
  private unreported = 0
  /** The causes reported since the last successful write, so each is logged once. */
  readonly reported = new Set<string>()

  constructor(name: string, options: Options) {
    this.name = name
    this.path = pathOf(options.dir, name)
    this.options = options
  }

  /** Lines this file never got (its queue was full, or the disk failed). */
  get dropped(): number {
    return this.missed
  }

  /** Queues a line (ending in a newline); false when the queue is full and the line was dropped. */
  enqueue(text: string): boolean {
    const bytes = Buffer.byteLength(text)
    if (this.queuedBytes + bytes > this.options.pendingBytes && this.queue.length > 0) {
      this.missed++
      this.unreported++
      return false
    }
    this.queue.push({ text, bytes })
    this.queuedBytes += bytes
    return true
  }

  /** Takes everything queued, with a line about missed lines first when there were any. */
  take(now: number, describeMissed: (count: number, time: number) => string): Array<Queued> {
    const batch = this.queue
    this.queue = []
    this.queuedBytes = 0
    if (this.unreported > 0) {
      const text = describeMissed(this.unreported, now)
      batch.unshift({ text, bytes: Buffer.byteLength(text), reports: this.unreported })
      this.unreported = 0
    }
    return batch
  }

  /** Counts the lines of a batch the disk refused (a refused report is owed again). */
  lost(batch: ReadonlyArray<Queued>): void {
    for (const q of batch) {
      if (q.reports === undefined) this.missed++
      this.unreported += q.reports ?? 1
    }
  }
}

/** The live file's size on disk, 0 when it does not exist yet. */
const sizeOnDisk = (path: string) =>
  Effect.tryPromise({
    try: () => Fs.stat(path).then((s) => s.size, (e: NodeJS.ErrnoException) => (e.code === "ENOENT" ? 0 : Promise.reject(e))),
    catch: fileError("stat", path)
  })

/** A rename or unlink whose source may be missing (a rotation that never got that far). */
const missingIsFine = (e: NodeJS.ErrnoException) => (e.code === "ENOENT" ? undefined : Promise.reject(e))

/** Shifts `name.log` → `.1` → … → `.N`, the oldest overwritten; with N = 0, removes `name.log`. */
const rotate = Effect.fnUntraced(function* (file: LogFile) {
  const step = (f: () => Promise<void>) => Effect.tryPromise({ try: () => f().catch(missingIsFine), catch: fileError("rotate", file.path) })
  if (file.options.files <= 0) yield* step(() => Fs.unlink(file.path))
  for (let n = file.options.files - 1; n >= 0; n--) {
    yield* step(() => Fs.rename(rotated(file.path, n), rotated(file.path, n + 1)))
  }
})

const append = (file: LogFile, text: string) =>
  Effect.tryPromise({
    try: () => Fs.appendFile(file.path, text, { mode: 0o600 }),
    catch: fileError("append", file.path)
  })

/**
 * Writes `batch`, rotating whenever the next line would take the live file past `maxBytes`.
 * On an error the rest of the batch is counted as lost and the error returned; the size is read
 * from the disk again next time.
 */
export const flush = Effect.fnUntraced(function* (file: LogFile, batch: ReadonlyArray<Queued>) {
  let i = 0
  const written = Effect.gen(function* () {
    let size = file.size ?? (yield* sizeOnDisk(file.path))
    while (i < batch.length) {
      if (size > 0 && size + batch[i]!.bytes > file.options.maxBytes) {
        yield* rotate(file)
        size = 0
      }
      // As many lines as fit in the live file, at least one.
      let end = i
      let bytes = 0
      while (end < batch.length && (end === i || size + bytes + batch[end]!.bytes <= file.options.maxBytes)) {
        bytes += batch[end]!.bytes
        end++
      }
      yield* append(file, batch.slice(i, end).map((q) => q.text).join(""))
      size += bytes
      file.size = size
      i = end
    }
    file.reported.clear()
  })
  return yield* written.pipe(Effect.tapError(() =>
    Effect.sync(() => {
      file.lost(batch.slice(i))
      file.size = undefined
    })
  ))
})
