/** Telemetry: the OTLP settings an environment gives, and what the layer adds with and without them. */
import { Context, Effect, Exit, Layer, Metric, Result, Scope, Tracer } from "effect"
import { describe, expect, it } from "vitest"
import { KernelConfig } from "../../src/process/KernelConfig.ts"
import * as Telemetry from "../../src/metrics/Telemetry.ts"
import * as OtlpReceiver from "../support/OtlpReceiver.ts"
import * as Cleanups from "../support/cleanups.ts"

const cleanups = Cleanups.perTest()

/** Builds the layer over a config, for as long as the test runs. */
const build = async (env: Record<string, string>) => {
  const scope = Effect.runSync(Scope.make())
  cleanups.push(() => Effect.runPromise(Scope.close(scope, Exit.void)))
  return Effect.runPromise(Layer.buildWithScope(
    Telemetry.layerFromEnv(env).pipe(Layer.provideMerge(KernelConfig.layer({ kernelId: "ktest" }))),
    scope
  ))
}

describe("Telemetry.settingsFromEnv", () => {
  it("is off without an endpoint, or with OTEL_SDK_DISABLED=true", () => {
    expect(Telemetry.settingsFromEnv({})).toEqual(Result.succeed(undefined))
    expect(Telemetry.settingsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: " " })).toEqual(Result.succeed(undefined))
    expect(Telemetry.settingsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_SDK_DISABLED: "TRUE" })).toEqual(Result.succeed(undefined))
  })

  it("reads the endpoint, the service name (default agentos-kernel), headers and intervals", () => {
    expect(Telemetry.settingsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/" })).toEqual(Result.succeed({
      endpoint: "http://collector:4318",
      serviceName: "agentos-kernel",
      headers: {},
      metricsIntervalMs: Telemetry.DEFAULT_METRICS_INTERVAL_MS,
      tracesIntervalMs: undefined
    }))
    expect(Telemetry.settingsFromEnv({
      OTEL_EXPORTER_OTLP_ENDPOINT: "https://otlp.example.com/prefix",
      OTEL_SERVICE_NAME: "kernel-7",
      OTEL_EXPORTER_OTLP_HEADERS: "Authorization=Bearer%20t0k, x-team = ops ,",
      OTEL_METRIC_EXPORT_INTERVAL: "2500",
      OTEL_BSP_SCHEDULE_DELAY: "100"
    })).toEqual(Result.succeed({
      endpoint: "https://otlp.example.com/prefix",
      serviceName: "kernel-7",
      headers: { authorization: "Bearer t0k", "x-team": "ops" },
      metricsIntervalMs: 2500,
      tracesIntervalMs: 100
    }))
  })

  it("names every problem at once, each with its variable", () => {
    const result = Telemetry.settingsFromEnv({
      OTEL_EXPORTER_OTLP_ENDPOINT: "not a url",
      OTEL_EXPORTER_OTLP_HEADERS: "good=1,novalue,bad=%zz",
      OTEL_METRIC_EXPORT_INTERVAL: "-5",
      OTEL_BSP_SCHEDULE_DELAY: "soon"
    })
    expect(Result.isFailure(result)).toBe(true)
    const message = Result.isFailure(result) ? result.failure.message : ""
    expect(message).toContain("OTEL_EXPORTER_OTLP_ENDPOINT: not a URL")
    expect(message).toContain("OTEL_EXPORTER_OTLP_HEADERS[1]: expected key=value")
    expect(message).toContain("OTEL_EXPORTER_OTLP_HEADERS[2]: the value of bad is not valid percent-encoding")
    expect(message).toContain("OTEL_METRIC_EXPORT_INTERVAL: expected a positive whole number of milliseconds")
    expect(message).toContain("OTEL_BSP_SCHEDULE_DELAY: expected a positive whole number of milliseconds")
    // A scheme forgotten (`collector:4318` reads as scheme `collector:`) is named as such.
    for (const endpoint of ["ftp://collector", "collector:4318"]) {
      const wrong = Telemetry.settingsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint })
      expect(Result.isFailure(wrong) && wrong.failure.message).toContain("expected an http:// or https:// URL")
    }
  })
})

describe("Telemetry.layerFromEnv", () => {
  it("without an endpoint adds only the kernel's own metric registry: no exporting tracer, no syscall spans", async () => {
    const a = await build({})
    const b = await build({})
    expect(Context.get(a, Telemetry.Exporting)).toBeUndefined()
    expect(Context.get(a, Tracer.Tracer)).toBe(Tracer.nativeTracer)
    // Two kernels in one process never share counters.
    expect(Context.get(a, Metric.MetricRegistry)).not.toBe(Context.get(b, Metric.MetricRegistry))
    expect(Context.get(a, Metric.MetricRegistry)).not.toBe(Context.get(Context.empty(), Metric.MetricRegistry))
  })

  it("with an endpoint adds the OTLP tracer and the exporting mark; closing it flushes to the receiver", async () => {
    const receiver = await OtlpReceiver.start()
    cleanups.push(() => receiver.close())
    const context = await build({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_METRIC_EXPORT_INTERVAL: "60000" })
    expect(Context.get(context, Telemetry.Exporting)).toEqual({ metricsIntervalMs: 60_000 })
    expect(Context.get(context, Tracer.Tracer)).not.toBe(Tracer.nativeTracer)
    await Effect.runPromise(Effect.void.pipe(Effect.withSpan("telemetry-test"), Effect.provideContext(context)))
    // The layer closes: its exporters send what they hold before they go.
    await cleanups.pop()!()
    expect(receiver.rejected).toEqual([])
    expect(receiver.spans().map((s) => [s.name, s.resource["service.name"], s.resource["service.instance.id"]]))
      .toEqual([["telemetry-test", "agentos-kernel", "ktest"]])
  })

  it("fails to build with a TelemetryConfigError on bad settings", async () => {
    const scope = Effect.runSync(Scope.make())
    cleanups.push(() => Effect.runPromise(Scope.close(scope, Exit.void)))
    const exit = await Effect.runPromiseExit(Layer.buildWithScope(
      Telemetry.layerFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "::" }).pipe(Layer.provide(KernelConfig.layer())),
      scope
    ))
    expect(Exit.isFailure(exit) && String(exit.cause)).toContain("OTEL_EXPORTER_OTLP_ENDPOINT: not a URL")
  })
})
