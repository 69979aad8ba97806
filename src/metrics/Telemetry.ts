/**
 * Where the kernel's telemetry goes. Every kernel gets its own metric registry (so two kernels in
 * one process never mix their counters). When `OTEL_EXPORTER_OTLP_ENDPOINT` is set, effect's
 * OTLP exporters send its spans and metrics there too (OTLP/HTTP, JSON), every syscall becomes a
 * span from its arrival to its reply, and the exporters flush when the kernel stops. Without it
 * nothing else is added: dispatch is exactly what it was. docs/metrics.md lists the variables.
 */
import { Cause, Context, Data, Effect, Exit, Layer, Metric, Result } from "effect"
import { FetchHttpClient } from "effect/http"
import { OtlpMetrics, OtlpSerialization, OtlpTracer } from "effect/observability"
import { code, type KernelError } from "../process/KernelError.ts"
import { KernelConfig } from "../process/KernelConfig.ts"
import type { Caller } from "../process/Caller.ts"
import type { Request } from "../protocol/Message.ts"
import * as Op from "../protocol/Op.ts"
import { VERSION } from "../protocol/Version.ts"

/** The service name spans and metrics carry unless OTEL_SERVICE_NAME says otherwise. @category models */
export const DEFAULT_SERVICE_NAME = "agentos-kernel"

/** Effect's OTLP metrics exporter's own default interval, kept when OTEL_METRIC_EXPORT_INTERVAL is unset. @category models */
export const DEFAULT_METRICS_INTERVAL_MS = 10_000

/** The OTLP settings the environment gives. @category models */
export interface Settings {
  /** The collector's base URL; signals go to `<endpoint>/v1/traces` and `<endpoint>/v1/metrics`. */
  readonly endpoint: string
  readonly serviceName: string
  /** Sent with every export (OTEL_EXPORTER_OTLP_HEADERS: `key=value,key2=value2`, values percent-decoded). */
  readonly headers: Readonly<Record<string, string>>
  /** How often metrics are exported (OTEL_METRIC_EXPORT_INTERVAL, ms). */
  readonly metricsIntervalMs: number
  /** How often finished spans are exported (OTEL_BSP_SCHEDULE_DELAY, ms); undefined: effect's default (5 s). */
  readonly tracesIntervalMs: number | undefined
}

/** The environment's OTLP settings are wrong; the message names each variable and its problem. @category errors */
export class TelemetryConfigError extends Data.TaggedError("TelemetryConfigError")<{ readonly message: string }> {}

/** A positive whole number of milliseconds, or a problem naming the variable. */
const milliseconds = (name: string, text: string | undefined, problems: Array<string>): number | undefined => {
  if (text === undefined || text.trim() === "") return undefined
  const n = Number(text.trim())
  if (Number.isInteger(n) && n > 0) return n
  problems.push(`${name}: expected a positive whole number of milliseconds, got ${JSON.stringify(text)}`)
  return undefined
}

/** `key=value,key2=value2` as OTEL_EXPORTER_OTLP_HEADERS writes them (W3C baggage style, values percent-encoded). */
const parseHeaders = (text: string | undefined, problems: Array<string>): Record<string, string> => {
  const headers: Record<string, string> = {}
  if (text === undefined) return headers
  text.split(",").forEach((entry, i) => {
    if (entry.trim() === "") return
    const eq = entry.indexOf("=")
    const key = eq === -1 ? "" : entry.slice(0, eq).trim()
    if (key === "") {
      problems.push(`OTEL_EXPORTER_OTLP_HEADERS[${i}]: expected key=value, got ${JSON.stringify(entry)}`)
      return
    }
    try {
      headers[key.toLowerCase()] = decodeURIComponent(entry.slice(eq + 1).trim())
    } catch {
      problems.push(`OTEL_EXPORTER_OTLP_HEADERS[${i}]: the value of ${key} is not valid percent-encoding`)
    }
  })
  return headers
}

/**
 * The OTLP settings of an environment: undefined when OTEL_EXPORTER_OTLP_ENDPOINT is unset or
 * empty, or OTEL_SDK_DISABLED is `true`; every problem reported at once otherwise.
 * @category constructors
 */
export const settingsFromEnv = (
  env: Readonly<Record<string, string | undefined>> = process.env
): Result.Result<Settings | undefined, TelemetryConfigError> => {
  const raw = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim()
  if (raw === undefined || raw === "" || env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return Result.succeed(undefined)
  const problems: Array<string> = []
  let endpoint = raw
  try {
    const url = new URL(raw)
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      problems.push(`OTEL_EXPORTER_OTLP_ENDPOINT: expected an http:// or https:// URL, got ${JSON.stringify(raw)}`)
    }
    endpoint = raw.replace(/\/+$/, "")
  } catch {
    problems.push(`OTEL_EXPORTER_OTLP_ENDPOINT: not a URL: ${JSON.stringify(raw)}`)
  }
  const headers = parseHeaders(env.OTEL_EXPORTER_OTLP_HEADERS, problems)
  const metricsIntervalMs = milliseconds("OTEL_METRIC_EXPORT_INTERVAL", env.OTEL_METRIC_EXPORT_INTERVAL, problems) ?? DEFAULT_METRICS_INTERVAL_MS
  const tracesIntervalMs = milliseconds("OTEL_BSP_SCHEDULE_DELAY", env.OTEL_BSP_SCHEDULE_DELAY, problems)
  const serviceName = env.OTEL_SERVICE_NAME?.trim() || DEFAULT_SERVICE_NAME
  if (problems.length > 0) return Result.fail(new TelemetryConfigError({ message: `OpenTelemetry settings: ${problems.join("; ")}` }))
  return Result.succeed({ endpoint, serviceName, headers, metricsIntervalMs, tracesIntervalMs })
}

/**
 * Set while the kernel exports over OTLP: syscalls are then spans, and KernelMetrics refreshes
 * the figures it reads from live state often enough for the metrics exporter. Unset (the
 * default), neither costs anything. @category services
 */
export const Exporting = Context.Reference<{ readonly metricsIntervalMs: number } | undefined>(
  "agentos/metrics/Telemetry/Exporting",
  { defaultValue: () => undefined }
)

/** A syscall's outcome as a span attribute: `ok`, the protocol's error code, or `interrupted` (its caller went away). */
const resultCode = (exit: Exit.Exit<unknown, KernelError>): string => {
  if (Exit.isSuccess(exit)) return "ok"
  const failure = exit.cause.reasons.find(Cause.isFailReason)
  if (failure !== undefined) return code(failure.error)
  return Cause.hasInterruptsOnly(exit.cause) ? "interrupted" : "EIO"
}

/**
 * One syscall as a span, from the request's arrival to its reply: `agentos.syscall THINK`, kind
 * server, with the caller (agent or client name, session, kind), the op and, once answered, the
 * result code. What the handler does inside (the LLM scheduler's queue wait, its upstream call)
 * are its child spans. @category constructors
 */
export const syscallSpan = (request: Request, caller: Caller) =>
<A>(handled: Effect.Effect<A, KernelError>): Effect.Effect<A, KernelError> => {
  const op = Op.nameOf(request.op) ?? Op.describe(request.op)
  const name = caller.agent?.name ?? caller.name
  return handled.pipe(
    Effect.onExit((exit) => Effect.annotateCurrentSpan("agentos.result", resultCode(exit))),
    Effect.withSpan(`agentos.syscall ${op}`, {
      kind: "server",
      attributes: {
        "agentos.op": op,
        "agentos.session": caller.sessionId,
        "agentos.caller.kind": caller.kind,
        ...(name === undefined ? {} : { "agentos.agent": name })
      }
    }, { captureStackTrace: false })
  )
}

/** The exporters, over the kernel's registry; their scopes flush what is left when they close. */
const exporters = (settings: Settings, kernelId: string) => {
  const resource = { serviceName: settings.serviceName, serviceVersion: VERSION, attributes: { "service.instance.id": kernelId } }
  return Layer.mergeAll(
    OtlpTracer.layer({
      url: `${settings.endpoint}/v1/traces`,
      resource,
      headers: settings.headers,
      ...(settings.tracesIntervalMs === undefined ? {} : { exportInterval: settings.tracesIntervalMs })
    }),
    OtlpMetrics.layer({
      url: `${settings.endpoint}/v1/metrics`,
      resource,
      headers: settings.headers,
      exportInterval: settings.metricsIntervalMs
    }),
    Layer.succeed(Exporting, { metricsIntervalMs: settings.metricsIntervalMs })
  ).pipe(Layer.provide([OtlpSerialization.layerJson, FetchHttpClient.layer]))
}

/**
 * The kernel's telemetry from an environment: its own metric registry, and the OTLP exporters
 * (traces and metrics) when OTEL_EXPORTER_OTLP_ENDPOINT is set. Fails with TelemetryConfigError
 * when the variables are wrong. Build it under everything else, so it closes last: the exporters'
 * final flush then sees every span and metric of the kernel's life. @category layers
 */
export const layerFromEnv = (
  env: Readonly<Record<string, string | undefined>> = process.env
): Layer.Layer<never, TelemetryConfigError, KernelConfig> => {
  const registry = Layer.sync(Metric.MetricRegistry, () => new Map())
  return Layer.unwrap(Effect.gen(function* () {
    const settings = yield* Effect.fromResult(settingsFromEnv(env))
    if (settings === undefined) return registry
    const { kernelId } = yield* KernelConfig
    return exporters(settings, kernelId).pipe(Layer.provideMerge(registry))
  }))
}
