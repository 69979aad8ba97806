/**
 * Test support: an OTLP/HTTP receiver of our own, as a collector's `otlphttp` receiver is one: a
 * real node:http server taking POST /v1/traces and /v1/metrics with the JSON encoding of the
 * OTLP protobuf messages (ExportTraceServiceRequest, ExportMetricsServiceRequest), answering
 * 200 with an empty response message. It checks what a collector would reject (the path, the
 * content type, JSON, the ids' hex lengths, the span and data point fields) and keeps every
 * request with its headers, flattened for tests: spans with their attributes as a record, metric
 * data points with theirs.
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Zlib from "node:zlib"

/** An OTLP AnyValue, decoded. */
type Value = string | number | boolean | null | ReadonlyArray<Value> | { readonly [key: string]: Value }

interface KeyValue {
  readonly key: string
  readonly value: Record<string, unknown>
}

/** A span as received, attributes decoded. */
export interface ReceivedSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  readonly name: string
  /** OTLP SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  readonly kind: number
  readonly startTimeUnixNano: bigint
  readonly endTimeUnixNano: bigint
  readonly attributes: Readonly<Record<string, Value>>
  /** 0 unset, 1 ok, 2 error. */
  readonly status: { readonly code: number; readonly message?: string }
  readonly resource: Readonly<Record<string, Value>>
}

/** One data point of a metric as received. */
export interface ReceivedPoint {
  readonly metric: string
  readonly kind: "sum" | "gauge" | "histogram" | "summary" | "exponentialHistogram"
  readonly attributes: Readonly<Record<string, Value>>
  /** A sum's or gauge's value; a histogram's count. */
  readonly value: number
  readonly resource: Readonly<Record<string, Value>>
}

/** A request as received. */
export interface ReceivedRequest {
  readonly path: string
  readonly headers: Http.IncomingHttpHeaders
  readonly body: unknown
}

/** Decodes an OTLP AnyValue (`{stringValue}`, `{intValue}` as a number or decimal string, …). */
const decodeValue = (v: Record<string, unknown>): Value => {
  if ("stringValue" in v) return String(v.stringValue)
  if ("boolValue" in v) return Boolean(v.boolValue)
  if ("intValue" in v) return Number(v.intValue)
  if ("doubleValue" in v) return Number(v.doubleValue)
  if ("arrayValue" in v) return ((v.arrayValue as { values?: Array<Record<string, unknown>> }).values ?? []).map(decodeValue)
  if ("kvlistValue" in v) return attributesOf((v.kvlistValue as { values?: Array<KeyValue> }).values)
  return null
}

const attributesOf = (list: ReadonlyArray<KeyValue> | undefined): Record<string, Value> => {
  const out: Record<string, Value> = {}
  for (const kv of list ?? []) {
    if (typeof kv.key !== "string" || typeof kv.value !== "object" || kv.value === null) throw new Error(`bad KeyValue ${JSON.stringify(kv)}`)
    out[kv.key] = decodeValue(kv.value)
  }
  return out
}

const hex = (s: unknown, length: number, what: string): string => {
  if (typeof s !== "string" || !new RegExp(`^[0-9a-f]{${length}}$`).test(s)) throw new Error(`${what}: expected ${length} lowercase hex digits, got ${JSON.stringify(s)}`)
  return s
}

const nanos = (s: unknown, what: string): bigint => {
  if ((typeof s !== "string" || !/^\d+$/.test(s)) && typeof s !== "number") throw new Error(`${what}: expected a uint64, got ${JSON.stringify(s)}`)
  return BigInt(s)
}

/** ExportTraceServiceRequest → spans, or throws naming what a collector would reject. */
const spansOf = (body: unknown): Array<ReceivedSpan> => {
  const resourceSpans = (body as { resourceSpans?: unknown }).resourceSpans
  if (!Array.isArray(resourceSpans)) throw new Error("resourceSpans: expected an array")
  return resourceSpans.flatMap((rs: { resource?: { attributes?: Array<KeyValue> }; scopeSpans?: Array<{ spans?: Array<Record<string, unknown>> }> }) => {
    const resource = attributesOf(rs.resource?.attributes)
    return (rs.scopeSpans ?? []).flatMap((ss) =>
      (ss.spans ?? []).map((s): ReceivedSpan => {
        if (typeof s.name !== "string" || s.name === "") throw new Error("span.name: expected a non-empty string")
        const parent = s.parentSpanId
        return {
          traceId: hex(s.traceId, 32, "traceId"),
          spanId: hex(s.spanId, 16, "spanId"),
          parentSpanId: parent === undefined || parent === "" ? undefined : hex(parent, 16, "parentSpanId"),
          name: s.name,
          kind: Number(s.kind ?? 0),
          startTimeUnixNano: nanos(s.startTimeUnixNano, "startTimeUnixNano"),
          endTimeUnixNano: nanos(s.endTimeUnixNano, "endTimeUnixNano"),
          attributes: attributesOf(s.attributes as Array<KeyValue> | undefined),
          status: (s.status ?? { code: 0 }) as ReceivedSpan["status"],
          resource
        }
      }))
  })
}

/** ExportMetricsServiceRequest → data points, or throws. */
const pointsOf = (body: unknown): Array<ReceivedPoint> => {
  const resourceMetrics = (body as { resourceMetrics?: unknown }).resourceMetrics
  if (!Array.isArray(resourceMetrics)) throw new Error("resourceMetrics: expected an array")
  const kinds = ["sum", "gauge", "histogram", "summary", "exponentialHistogram"] as const
  return resourceMetrics.flatMap((rm: { resource?: { attributes?: Array<KeyValue> }; scopeMetrics?: Array<{ metrics?: Array<Record<string, unknown>> }> }) => {
    const resource = attributesOf(rm.resource?.attributes)
    return (rm.scopeMetrics ?? []).flatMap((sm) =>
      (sm.metrics ?? []).flatMap((m) => {
        if (typeof m.name !== "string" || m.name === "") throw new Error("metric.name: expected a non-empty string")
        const kind = kinds.find((k) => k in m)
        if (kind === undefined) throw new Error(`metric ${m.name}: no data (sum, gauge, histogram, summary)`)
        const points = (m[kind] as { dataPoints?: Array<Record<string, unknown>> }).dataPoints
        if (!Array.isArray(points)) throw new Error(`metric ${m.name}: dataPoints: expected an array`)
        return points.map((p): ReceivedPoint => ({
          metric: m.name as string,
          kind,
          attributes: attributesOf(p.attributes as Array<KeyValue> | undefined),
          value: Number(p.asInt ?? p.asDouble ?? p.count ?? Number.NaN),
          resource
        }))
      }))
  })
}

/** A running receiver. */
export interface OtlpReceiver {
  /** The base URL to give as OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly endpoint: string
  readonly requests: ReadonlyArray<ReceivedRequest>
  /** Requests it refused, with why (a test expects none). */
  readonly rejected: ReadonlyArray<string>
  readonly spans: () => ReadonlyArray<ReceivedSpan>
  readonly points: () => ReadonlyArray<ReceivedPoint>
  readonly close: () => Promise<void>
}

/** Starts a receiver on 127.0.0.1 at a free port. */
export const start = async (): Promise<OtlpReceiver> => {
  const requests: Array<ReceivedRequest> = []
  const rejected: Array<string> = []
  const spans: Array<ReceivedSpan> = []
  const points: Array<ReceivedPoint> = []
  const refuse = (res: Http.ServerResponse, status: number, why: string) => {
    rejected.push(why)
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ code: status, message: why }))
  }
  const server = Http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const path = req.url ?? ""
      if (req.method !== "POST" || (path !== "/v1/traces" && path !== "/v1/metrics")) return refuse(res, 404, `${req.method} ${path}`)
      if (!(req.headers["content-type"] ?? "").startsWith("application/json")) return refuse(res, 415, `content-type ${req.headers["content-type"]}`)
      let body: unknown
      try {
        const raw = Buffer.concat(chunks)
        body = JSON.parse((req.headers["content-encoding"] === "gzip" ? Zlib.gunzipSync(raw) : raw).toString("utf8"))
        if (path === "/v1/traces") spans.push(...spansOf(body))
        else points.push(...pointsOf(body))
      } catch (e) {
        return refuse(res, 400, `${path}: ${(e as Error).message}`)
      }
      requests.push({ path, headers: req.headers, body })
      // ExportTraceServiceResponse / ExportMetricsServiceResponse with nothing rejected.
      res.writeHead(200, { "content-type": "application/json" }).end("{}")
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    rejected,
    spans: () => spans,
    points: () => points,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
