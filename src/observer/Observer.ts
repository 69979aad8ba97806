/**
 * The web observer: an HTTP server inside the kernel process (`agentos boot --observe`), on
 * Effect's HTTP server over Node's. It serves one page (ObserverPage) and the data behind it:
 * a server-sent event stream of snapshots (ObserverState, sampled once a second) and lifecycle
 * events as they happen, an agent's log tail and live lines (AgentLogs), `/metrics`
 * (KernelMetrics), and two actions (restart, stop a child) that need the boot token. Everything
 * it reads is in-process: the supervision registry, the process table, the agents' logs, the
 * event bus, the metrics and the LLM scheduler. It listens
 * on 127.0.0.1 unless told otherwise, and stops with the scope that started it.
 */
import { NodeHttpServer } from "@effect/platform-node"
import { Clock, Context, Data, Deferred, Effect, Layer, PubSub, type Scope, Stream } from "effect"
import { Sse } from "effect/encoding"
import { HttpServerRequest, HttpServerResponse } from "effect/http"
import * as Http from "node:http"
import { Agents, row } from "../process/Agents.ts"
import { type AgentOutput, Events, type LifecycleEvent } from "../process/Events.ts"
import * as KernelError from "../process/KernelError.ts"
import { findNode } from "../protocol/Rows.ts"
import { LlmScheduler } from "../llm/Scheduler.ts"
import { Supervision } from "../supervision/Supervision.ts"
import { AgentLogs, type LogEntry } from "../logs/AgentLogs.ts"
import { KernelMetrics } from "../metrics/KernelMetrics.ts"
import * as ObserverAddress from "./ObserverAddress.ts"
import * as ObserverPage from "./ObserverPage.ts"
import * as ObserverState from "./ObserverState.ts"
import * as ObserverToken from "./ObserverToken.ts"

/** How the observer is started. @category models */
export interface Options {
  readonly host: string
  readonly port: number
  /** The action token (ObserverToken.resolve picks or makes one). */
  readonly token: string
}

/** A running observer: where it listens and the token its actions need. @category models */
export interface Running {
  readonly host: string
  /** The port it got (the real one when 0 was asked for). */
  readonly port: number
  /** Its base URL, `http://host:port/`. */
  readonly url: string
  /** The same URL with the token in its fragment: the link to open (browsers never send a fragment). */
  readonly link: string
  readonly token: string
}

/** The observer could not listen. @category errors */
export class ObserverError extends Data.TaggedError("ObserverError")<{ readonly message: string }> {}

/** What the observer needs from the kernel. @category models */
export type Services = Supervision | Agents | AgentLogs | Events | LlmScheduler | KernelMetrics

/** How often the process table is sampled and a snapshot is pushed to every page. */
const SAMPLE_INTERVAL = "1 second"
/** Lines of an agent's log sent when its panel opens. */
const LOG_TAIL = 200
/** Snapshots and events waiting for a slow page; past it the oldest are dropped (the next snapshot catches up). */
const UPDATE_BUFFER = 256

/** A message on the page's event stream. */
type Update =
  | { readonly _tag: "snapshot"; readonly snapshot: ObserverState.Snapshot }
  | { readonly _tag: "lifecycle"; readonly event: LifecycleEvent }

const sseText = (event: string, data: unknown): string =>
  Sse.encoder.write({ _tag: "Event", event, id: undefined, data: JSON.stringify(data) })

const securityHeaders = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY"
}

const pageHeaders = {
  ...securityHeaders,
  // Everything is served from here: no CDN, no inline script, no other origin.
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

const json = (status: number, body: unknown) =>
  HttpServerResponse.text(JSON.stringify(body), { status, contentType: "application/json; charset=utf-8", headers: securityHeaders })

const problem = (status: number, message: string) => json(status, { error: message })

const eventStream = (body: Stream.Stream<string>) =>
  HttpServerResponse.stream(Stream.encodeText(body), {
    contentType: "text/event-stream; charset=utf-8",
    headers: { ...securityHeaders, connection: "keep-alive", "x-accel-buffering": "no" }
  })

/** HTTP status of a kernel error answered to an action. */
const statusOf = (error: KernelError.KernelError): number => {
  switch (error._tag) {
    case "InvalidArgument":
      return 400
    case "NotFound":
      return 404
    case "PermissionDenied":
      return 403
    case "AlreadyExists":
    case "Busy":
      return 409
    case "TryAgain":
    case "RateLimited":
      return 503
    case "TimedOut":
      return 504
    default:
      return 500
  }
}

/** The `Host` names a loopback-bound observer answers to: a page on another site cannot rebind its name to us. */
const loopbackNames = new Set(["localhost", "127.0.0.1", "[::1]"])

const hostAllowed = (header: string | undefined, bound: string): boolean => {
  if (!ObserverAddress.isLoopback(bound)) return true
  if (header === undefined) return false
  const name = header.startsWith("[") ? header.slice(0, header.indexOf("]") + 1) : header.split(":")[0]!
  return loopbackNames.has(name.toLowerCase()) || name === bound
}

/**
 * Starts the observer in the current scope; closing the scope ends its event streams and
 * stops the server.
 * @category lifecycle
 */
export const start = (options: Options): Effect.Effect<Running, ObserverError, Services | Scope.Scope> =>
  Effect.gen(function* () {
    const supervision = yield* Supervision
    const agents = yield* Agents
    const events = yield* Events
    const llm = yield* LlmScheduler
    const agentLogs = yield* AgentLogs
    const kernelMetrics = yield* KernelMetrics

    const history = new ObserverState.History()
    const recent = new ObserverState.Recent()
    const updates = yield* PubSub.sliding<Update>(UPDATE_BUFFER)
    // Completed at shutdown, before the server closes: open event streams end, so the server's
    // graceful close does not wait for pages that never hang up.
    const closing = yield* Deferred.make<void>()

    const rows = (now: number) => agents.list().map((agent) => row(agent, now))
    const snapshot = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      return ObserverState.snapshot({ now, tree: supervision.tree(), rows: rows(now), llm: yield* llm.stats, history, recent })
    })

    // Lifecycle events, as they happen: kept for new pages and pushed to open ones.
    const lifecycle = yield* PubSub.subscribe(events.pubsub)
    yield* Effect.forkScoped(Effect.forever(
      PubSub.take(lifecycle).pipe(Effect.flatMap((event) => {
        recent.add(event)
        return PubSub.publish(updates, { _tag: "lifecycle", event })
      }))
    ))
    // Once a second: sample every agent's cgroup, then push the snapshot.
    yield* Effect.forkScoped(Effect.forever(Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      history.record(rows(now), now)
      yield* PubSub.publish(updates, { _tag: "snapshot", snapshot: yield* snapshot })
      yield* Effect.sleep(SAMPLE_INTERVAL)
    })))

    // -- routes -------------------------------------------------------------------------------

    const page = HttpServerResponse.html(ObserverPage.html)
    // Its types stripped once, here, not per request (and not by commands that never serve it).
    const script = yield* Effect.try({
      try: ObserverPage.script,
      catch: (cause) => new ObserverError({ message: `observer: preparing its page script ${ObserverPage.scriptFile.pathname}: ${cause instanceof Error ? cause.message : String(cause)}` })
    })
    const events$ = Stream.unwrap(Effect.gen(function* () {
      // Subscribed before the first snapshot is built: nothing falls between the two.
      const subscription = yield* PubSub.subscribe(updates)
      const first = yield* snapshot
      return Stream.make(sseText("snapshot", first)).pipe(
        Stream.concat(Stream.fromSubscription(subscription).pipe(
          Stream.map((update) => update._tag === "snapshot" ? sseText("snapshot", update.snapshot) : sseText("lifecycle", update.event))
        ))
      )
    }))

    /** A log line as the page gets it. */
    const logLine = (entry: LogEntry | AgentOutput) => ({
      seq: entry.seq, time: entry.time, name: entry.name, id: entry.id, incarnation: entry.incarnation, stream: entry.stream, line: entry.line
    })

    const logName = (request: HttpServerRequest.HttpServerRequest): string | undefined => {
      const name = new URL(request.url, "http://observer").searchParams.get("name")
      return name === null || name === "" ? undefined : name
    }
    /** The name asked for, or the response refusing it. */
    const logTarget = (request: HttpServerRequest.HttpServerRequest) => {
      const name = logName(request)
      if (name === undefined) return { _tag: "Refused" as const, response: problem(400, "name: expected ?name=<agent name>") }
      if (agents.byName(name) === undefined && !agentLogs.known(name)) {
        return { _tag: "Refused" as const, response: problem(404, `name: no agent named ${JSON.stringify(name)}`) }
      }
      return { _tag: "Ok" as const, name }
    }

    // The tail across incarnations (AgentLogs keeps a name's lines past its restarts).
    const logs = (request: HttpServerRequest.HttpServerRequest) => {
      const target = logTarget(request)
      if (target._tag === "Refused") return Effect.succeed(target.response)
      const name = target.name
      return Effect.succeed(json(200, { name, lines: agentLogs.tail(name, { n: LOG_TAIL }).map(logLine), dropped: agentLogs.dropped(name) }))
    }

    const logEvents = (request: HttpServerRequest.HttpServerRequest) => {
      const target = logTarget(request)
      if (target._tag === "Refused") return Effect.succeed(target.response)
      const name = target.name
      const lines = Stream.unwrap(Effect.gen(function* () {
        // Subscribed before the tail is read; a line in both is sent once (by its seq).
        const subscription = yield* PubSub.subscribe(events.output)
        const tail = agentLogs.tail(name, { n: LOG_TAIL })
        const last = tail.at(-1)?.seq ?? 0
        return Stream.make(sseText("tail", { name, lines: tail.map(logLine), dropped: agentLogs.dropped(name) })).pipe(
          Stream.concat(Stream.fromSubscription(subscription).pipe(
            Stream.filter((output: AgentOutput) => output.name === name && output.seq > last),
            Stream.map((output) => sseText("line", logLine(output)))
          ))
        )
      }))
      return Effect.succeed(eventStream(lines.pipe(Stream.interruptWhen(Deferred.await(closing)))))
    }

    /** Restarts (the supervisor's `restart`: terminate, then restart_child) or stops (terminate_child) the child at `path`. */
    const act = (action: "restart" | "stop", path: string) =>
      Effect.gen(function* () {
        const slash = path.lastIndexOf("/")
        if (slash <= 0) {
          return yield* new KernelError.InvalidArgument({ message: `path: ${JSON.stringify(path)} is not a child of a supervisor (init is PID 1)`, field: "path" })
        }
        const parent = path.slice(0, slash)
        const name = path.slice(slash + 1)
        const handle = supervision.find(parent)
        if (handle === undefined) return yield* new KernelError.NotFound({ message: `path: no supervisor at ${parent}` })
        return yield* handle.call((actor) =>
          Effect.gen(function* () {
            const child = actor.node(name)
            if (child === undefined) return yield* new KernelError.NotFound({ message: `path: ${parent} has no child named ${name}` })
            if (parent === "init" && child.kind === "service") {
              return yield* new KernelError.PermissionDenied({ message: `path: ${path} is one of the kernel's own services, not part of a booted tree` })
            }
            return yield* (action === "stop" ? actor.terminateChild(name) : actor.restart(name))
          })
        )
      })

    const action = (kind: "restart" | "stop") => (request: HttpServerRequest.HttpServerRequest) =>
      Effect.gen(function* () {
        if (!ObserverToken.authorizes(request.headers.authorization, options.token)) {
          return HttpServerResponse.text(JSON.stringify({ error: "a valid `Authorization: Bearer <token>` is required (the token printed at boot)" }), {
            status: 401,
            contentType: "application/json; charset=utf-8",
            headers: { ...securityHeaders, "www-authenticate": 'Bearer realm="agentos observer"' }
          })
        }
        const body = yield* request.json.pipe(Effect.option)
        if (body._tag === "None" || typeof body.value !== "object" || body.value === null || Array.isArray(body.value)) {
          return problem(400, 'body: expected JSON {"path": "init/<tree>/<child>"}')
        }
        const path = (body.value as { readonly path?: unknown }).path
        if (typeof path !== "string" || path === "") return problem(400, "path: expected a non-empty string, the child's path as the tree shows it")
        return yield* act(kind, path).pipe(
          Effect.map((node) => json(200, { ok: true, action: kind, path, node })),
          Effect.catch((error) => Effect.succeed(problem(statusOf(error), error.message)))
        )
      })

    // The same exposition as METRICS and `agentos metrics`, for a Prometheus scraping this port.
    const metrics = Effect.map(kernelMetrics.render, (text) =>
      HttpServerResponse.text(text, { contentType: "text/plain; version=0.0.4; charset=utf-8", headers: securityHeaders }))

    const routes = Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      if (!hostAllowed(request.headers.host, options.host)) {
        return problem(403, "this observer only answers to localhost, 127.0.0.1 and [::1]")
      }
      const path = new URL(request.url, "http://observer").pathname
      const method = request.method
      const get = method === "GET" || method === "HEAD"
      if (get && path === "/") return page.pipe(HttpServerResponse.setHeaders(pageHeaders))
      if (get && path === "/observer.js") return HttpServerResponse.text(script, { contentType: "text/javascript; charset=utf-8", headers: pageHeaders })
      if (get && path === "/observer.css") return HttpServerResponse.text(ObserverPage.css, { contentType: "text/css; charset=utf-8", headers: pageHeaders })
      if (method === "GET" && path === "/events") return eventStream(events$.pipe(Stream.interruptWhen(Deferred.await(closing))))
      if (get && path === "/api/snapshot") return json(200, yield* snapshot)
      if (get && path === "/api/tree") {
        const name = new URL(request.url, "http://observer").searchParams.get("path")
        const tree = supervision.tree()
        if (name === null) return json(200, tree)
        const node = findNode(tree, (n) => n.path === name)
        return node === undefined ? problem(404, `path: no node at ${name}`) : json(200, node)
      }
      if (get && path === "/api/logs") return yield* logs(request)
      if (method === "GET" && path === "/events/logs") return yield* logEvents(request)
      if (get && path === "/metrics") return yield* metrics
      if (method === "POST" && path === "/api/restart") return yield* action("restart")(request)
      if (method === "POST" && path === "/api/stop") return yield* action("stop")(request)
      const known = ["/", "/observer.js", "/observer.css", "/events", "/events/logs", "/metrics", "/api/snapshot", "/api/tree", "/api/logs", "/api/restart", "/api/stop"]
      return known.includes(path) ? problem(405, `${method} ${path}: method not allowed`) : problem(404, `${path}: no such page`)
    })

    // -- the server ---------------------------------------------------------------------------

    const server = yield* NodeHttpServer.make(() => Http.createServer(), {
      host: options.host,
      port: options.port,
      // Event streams have ended by the time the server closes (see `closing`); this bounds
      // the wait for anything else in flight.
      gracefulShutdownTimeout: "2 seconds"
    }).pipe(
      Effect.mapError((error) => {
        const cause = error.cause as { readonly code?: string; readonly message?: string } | undefined
        return new ObserverError({ message: `observer: listening on ${options.host}:${options.port}: ${cause?.code ?? cause?.message ?? error.message}` })
      })
    )
    yield* server.serve(routes)
    // Added last, so it runs first at shutdown: end the streams, then the server closes.
    yield* Effect.addFinalizer(() => Deferred.succeed(closing, undefined))
    const port = server.address._tag === "UnixPathAddress" ? options.port : server.address.port
    const url = ObserverAddress.url({ host: options.host, port })
    return { host: options.host, port, url, link: `${url}#token=${options.token}`, token: options.token }
  })

/**
 * The observer as a service: the layer starts it over the kernel's services and stops it with
 * the layer's scope.
 * @category services
 */
export class Observer extends Context.Service<Observer, Running>()("agentos/observer/Observer") {
  /** @category layers */
  static readonly layer = (options: Options): Layer.Layer<Observer, ObserverError, Services> => Layer.effect(Observer, start(options))
}
