/**
 * `agentos top`: a live view of a kernel over its socket, redrawn every interval and on each
 * key: the supervision tree with each child's state, pid, restarts, uptime, CPU %, memory
 * against its limit, LLM tokens and queue, mailbox depth (src/top/TopView.ts draws it).
 * Keys select a row, sort, and restart or stop the selected child after a y/N question. With
 * --once, or when stdout is not a terminal, it prints one plain frame and exits. Exit codes:
 * 0 on q or Ctrl-C, 1 when the kernel cannot be reached or goes away, 2 a usage error.
 */
import { Clock, Console, Effect, Option, Queue } from "effect"
import { Command, Flag } from "effect/cli"
import { Client } from "../client/Client.ts"
import { ConnectionError, KernelCallError } from "../client/ClientError.ts"
import type * as LlmStats from "../llm/LlmStats.ts"
import * as TopView from "../top/TopView.ts"
import { Op } from "../protocol/Op.ts"
import * as Shared from "./shared.ts"

// ---------------------------------------------------------------------------------------------
// Reading the kernel
// ---------------------------------------------------------------------------------------------

/** TREE, LIST and STAT {} at one moment. @category constructors */
export const fetchSnapshot = Effect.gen(function* () {
  const client = yield* Client
  const [tree, rows, stat] = yield* Effect.all([client.tree(), client.list(), client.call(Op.STAT, {})], { concurrency: "unbounded" })
  const kernel = stat as { readonly kernel?: { readonly id?: string }; readonly llm?: LlmStats.Snapshot }
  return {
    // Taken after LIST answered: LIST read the cgroups' CPU time a moment before.
    time: yield* Clock.currentTimeMillis,
    kernelId: kernel.kernel?.id ?? null,
    tree,
    rows,
    llm: kernel.llm ?? null
  } satisfies TopView.Snapshot
})

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

/** The escape sequences of the keys top uses (both cursor-key modes a terminal may send). */
const sequences: ReadonlyArray<readonly [string, string]> = [
  ["\x1b[A", "up"], ["\x1bOA", "up"], ["\x1b[B", "down"], ["\x1bOB", "down"],
  ["\x1b[5~", "pageup"], ["\x1b[6~", "pagedown"],
  ["\x1b[H", "home"], ["\x1bOH", "home"], ["\x1b[1~", "home"], ["\x1b[F", "end"], ["\x1bOF", "end"], ["\x1b[4~", "end"]
]

/**
 * The keys in what a raw-mode terminal sent: named keys (`up`, `down`, `pageup`, `pagedown`,
 * `home`, `end`, `escape` for anything else starting with ESC), else one character each (a
 * read may carry several keys).
 * @category constructors
 */
export const parseKeys = (data: string): ReadonlyArray<string> => {
  const found: Array<string> = []
  let i = 0
  while (i < data.length) {
    if (data[i] !== "\x1b") {
      found.push(data[i]!)
      i++
      continue
    }
    const known = sequences.find(([sequence]) => data.startsWith(sequence, i))
    if (known !== undefined) {
      found.push(known[1])
      i += known[0].length
      continue
    }
    // Another CSI or SS3 sequence (a function key, a mouse report): skip it whole.
    const other = /^\x1b(?:\[[0-9;?]*[ -/]*[@-~]|O.)?/.exec(data.slice(i))!
    found.push("escape")
    i += other[0].length
  }
  return found
}

// ---------------------------------------------------------------------------------------------
// The interactive screen
// ---------------------------------------------------------------------------------------------

/** What the screen's loop reacts to. */
type Event =
  | { readonly _tag: "Snapshot"; readonly snapshot: TopView.Snapshot }
  | { readonly _tag: "Lost"; readonly error: KernelCallError | ConnectionError }
  | { readonly _tag: "Keys"; readonly data: string }
  | { readonly _tag: "Resize" }
  | { readonly _tag: "Acted"; readonly message: string }

const directSort: Readonly<Record<string, TopView.SortKey>> = { c: "cpu", m: "memory", r: "restarts", n: "name", t: "tree" }

/**
 * The terminal taken over for the life of the scope: the alternate screen, the cursor hidden,
 * keys unbuffered and unechoed (raw mode; Ctrl-C then arrives as a key). Given back when the
 * scope closes, whatever closed it, and on process exit should the scope never close.
 */
const takeTerminal = Effect.acquireRelease(
  Effect.sync(() => {
    const stdin = process.stdin
    let restored = false
    const restore = () => {
      if (restored) return
      restored = true
      if (stdin.isTTY) stdin.setRawMode(false)
      stdin.pause()
      process.stdout.write("\x1b[?25h\x1b[?1049l")
    }
    process.once("exit", restore)
    process.stdout.write("\x1b[?1049h\x1b[?25l")
    if (stdin.isTTY) stdin.setRawMode(true)
    stdin.setEncoding("utf8")
    stdin.resume()
    return restore
  }),
  (restore) =>
    Effect.sync(() => {
      restore()
      process.removeListener("exit", restore)
    })
)

/** Subscribes to a Node event emitter for the life of the scope. */
const listen = <A extends Array<unknown>>(emitter: NodeJS.EventEmitter, event: string, handler: (...args: A) => void) =>
  Effect.acquireRelease(
    Effect.sync(() => emitter.on(event, handler as (...args: Array<unknown>) => void)),
    () => Effect.sync(() => void emitter.removeListener(event, handler as (...args: Array<unknown>) => void))
  )

/** Draws a frame's lines from the top left, each line cleared to its end, then below. */
const draw = (lines: ReadonlyArray<string>) =>
  Effect.sync(() => {
    process.stdout.write(`${lines.map((line, i) => `\x1b[${i + 1};1H${line}\x1b[K`).join("")}\x1b[J`)
  })

const describeError = (error: KernelCallError | ConnectionError): string =>
  error._tag === "KernelCallError" ? `${error.code}: ${error.message}` : error.message

/** The live screen until q or Ctrl-C; fails when the kernel goes away. */
const screen = (options: { readonly intervalMs: number; readonly sort: TopView.SortKey; readonly socketPath: string }) =>
  Effect.scoped(Effect.gen(function* () {
    const client = yield* Client
    const events = yield* Queue.unbounded<Event>()
    const poke = yield* Queue.sliding<void>(1)

    // The refresher: a snapshot every interval, and at once when a key or an action pokes it.
    yield* Effect.gen(function* () {
      for (;;) {
        const result = yield* Effect.result(fetchSnapshot)
        if (result._tag === "Failure") return yield* Queue.offer(events, { _tag: "Lost", error: result.failure })
        yield* Queue.offer(events, { _tag: "Snapshot", snapshot: result.success })
        yield* Queue.take(poke).pipe(Effect.timeoutOption(options.intervalMs))
      }
    }).pipe(Effect.forkScoped)

    yield* takeTerminal
    yield* listen(process.stdin, "data", (data: string) => void Queue.offerUnsafe(events, { _tag: "Keys", data }))
    yield* listen(process.stdout, "resize", () => void Queue.offerUnsafe(events, { _tag: "Resize" }))

    let snapshot: TopView.Snapshot | null = null
    let previous: TopView.Sample | null = null
    let sort = options.sort
    let selected: string | null = null
    let scroll = 0
    let status = ""
    let pending: Extract<TopView.Plan, { _tag: "Confirm" }> | null = null
    let busy = false
    let rows: ReadonlyArray<TopView.Entry> = []
    // CPU % over at least half an interval: a refresh a key asked for right after a tick would
    // otherwise divide a few ms of CPU time by a few ms of wall time.
    const minWindowMs = options.intervalMs / 2

    const render = Effect.gen(function* () {
      if (snapshot === null) return
      const height = process.stdout.rows ?? 24
      const result = TopView.frame(snapshot, previous, {
        width: process.stdout.columns ?? 80,
        height,
        sort,
        selected,
        scroll,
        status,
        mode: "screen"
      })
      selected = result.selected
      scroll = result.scroll
      rows = result.entries
      yield* draw(result.lines)
    })

    const act = (plan: Extract<TopView.Plan, { _tag: "Confirm" }>) =>
      Effect.gen(function* () {
        for (const call of plan.calls) yield* client.call(call.op, call.args)
        return plan.done
      }).pipe(
        Effect.catch((error) => Effect.succeed(`${plan.prompt.replace(/\? \[y\/N\]$/, "")} failed: ${describeError(error)}`)),
        Effect.flatMap((message) => Queue.offer(events, { _tag: "Acted", message })),
        Effect.forkScoped
      )

    /** One key; true to quit. */
    const onKey = (key: string) =>
      Effect.gen(function* () {
        if (key === "\x03") return true
        if (pending !== null) {
          const plan = pending
          pending = null
          if (key !== "y") {
            status = `${plan.prompt.replace(/\? \[y\/N\]$/, "")}: cancelled`
            return false
          }
          busy = true
          status = `${plan.prompt.replace(/\? \[y\/N\]$/, "")}...`
          yield* act(plan)
          return false
        }
        const page = TopView.bodyHeight(process.stdout.rows ?? 24)
        const moves: Readonly<Record<string, number>> = {
          up: -1, k: -1, down: 1, j: 1, pageup: -page, pagedown: page, home: -rows.length, g: -rows.length, end: rows.length, G: rows.length
        }
        if (key === "q") return true
        if (key in moves) selected = TopView.move(rows, selected, moves[key]!)
        else if (key === "s") sort = TopView.nextSortKey(sort)
        else if (key in directSort) sort = directSort[key]!
        else if (key === "R" || key === "x" || key === "K") {
          const entry = rows.find((e) => e.key === selected)
          if (entry === undefined) return false
          if (busy) {
            status = "busy: the last action has not finished"
            return false
          }
          const plan = TopView.plan(entry.target, key === "R" ? "restart" : "stop")
          if (plan._tag === "Refused") status = plan.message
          else {
            pending = plan
            status = plan.prompt
          }
        }
        return false
      })

    for (;;) {
      const event = yield* Queue.take(events)
      switch (event._tag) {
        case "Snapshot": {
          if (snapshot !== null) {
            const last = TopView.sample(snapshot)
            if (previous === null || event.snapshot.time - last.time >= minWindowMs) previous = last
          }
          snapshot = event.snapshot
          break
        }
        case "Lost":
          return yield* Effect.fail(event.error._tag === "ConnectionError"
            ? new ConnectionError({ message: `lost the kernel at ${options.socketPath}: ${event.error.message}` })
            : event.error)
        case "Keys": {
          for (const key of parseKeys(event.data)) {
            if (yield* onKey(key)) return
          }
          yield* Queue.offer(poke, undefined)
          break
        }
        case "Resize":
          break
        case "Acted":
          busy = false
          status = event.message
          yield* Queue.offer(poke, undefined)
          break
      }
      yield* render
    }
  }))

// ---------------------------------------------------------------------------------------------
// The command
// ---------------------------------------------------------------------------------------------

/** `1s`, `500ms`, `2m`, or a bare number of seconds (as top -d); at least 100 ms. @category constructors */
export const parseInterval = (text: string): Option.Option<number> => {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim())
  if (match === null) return Option.none()
  const ms = Number(match[1]) * (match[2] === "ms" ? 1 : match[2] === "m" ? 60_000 : 1000)
  return ms >= 100 ? Option.some(ms) : Option.none()
}

export const top = Command.make("top", {
  socket: Shared.socket,
  verbose: Shared.verbose,
  interval: Flag.String("interval").pipe(
    Flag.withDescription("time between refreshes: 1s, 500ms, 2m, or seconds (at least 100ms)"),
    Flag.filterMap(parseInterval, () => "a duration of at least 100ms such as 1s, 500ms, 2m or 2 (seconds)"),
    Flag.withDefault(1000)
  ),
  sort: Flag.Literals("sort", TopView.sortKeys).pipe(
    Flag.withDescription("the first sort key: tree (start order), cpu, memory, restarts or name"),
    Flag.withDefault("tree")
  ),
  once: Flag.Boolean("once").pipe(Flag.withDescription("print one frame without escape codes and exit (also when stdout is not a terminal)"), Flag.withDefault(false))
}, ({ socket, interval, sort, once }) =>
  Effect.gen(function* () {
    if (!once && process.stdout.isTTY === true) {
      return yield* screen({ intervalMs: interval, sort, socketPath: Shared.socketPath(socket) })
    }
    const snapshot = yield* fetchSnapshot
    const frame = TopView.frame(snapshot, null, {
      width: process.stdout.isTTY === true ? process.stdout.columns ?? 80 : Infinity,
      height: Infinity,
      sort,
      selected: null,
      scroll: 0,
      status: "",
      mode: "plain"
    })
    yield* Console.log(frame.lines.join("\n"))
  }).pipe(Effect.provide(Shared.clientLayer(socket)))).pipe(
  Command.withDescription("A live view of the kernel: the tree with state, pid, restarts, uptime, CPU %, memory/limit, LLM tokens and queue, mailbox; keys to sort, restart and stop")
)
