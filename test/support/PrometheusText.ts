/**
 * Test support: a strict parser of Prometheus's text exposition format (version 0.0.4), written
 * from the format's description rather than taken from any library, so a test checks the kernel's
 * output against the format and not against the code that wrote it. Every line must parse; a
 * family's TYPE and HELP come at most once, before its samples; its samples are contiguous; a
 * histogram's are `_bucket` (with `le`, cumulative), `_sum` and `_count`; no series repeats.
 */

/** One sample line. */
export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

/** A metric family: its TYPE, HELP and samples. */
export interface Family {
  readonly name: string
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped"
  help: string | undefined
  readonly samples: Array<Sample>
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"])

const fail = (lineNo: number, line: string, why: string): never => {
  throw new Error(`line ${lineNo}: ${why}: ${JSON.stringify(line)}`)
}

/** A sample value: a Go float, or NaN, +Inf, -Inf. */
const parseValue = (text: string, lineNo: number, line: string): number => {
  if (text === "NaN") return Number.NaN
  if (text === "+Inf" || text === "Inf") return Number.POSITIVE_INFINITY
  if (text === "-Inf") return Number.NEGATIVE_INFINITY
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) fail(lineNo, line, `bad value ${JSON.stringify(text)}`)
  return Number(text)
}

/** `{a="x",b="y"}` from position `at`; returns the labels and the position after `}`. */
const parseLabels = (line: string, at: number, lineNo: number): [Record<string, string>, number] => {
  const labels: Record<string, string> = {}
  let i = at + 1
  for (;;) {
    if (line[i] === "}") return [labels, i + 1]
    const name = LABEL_NAME.exec(line.slice(i))?.[0]
    if (name === undefined) return fail(lineNo, line, `bad label name at column ${i + 1}`)
    if (name in labels) fail(lineNo, line, `label ${name} repeated`)
    i += name.length
    if (line[i] !== "=" || line[i + 1] !== "\"") fail(lineNo, line, `expected ="… after label ${name}`)
    i += 2
    let value = ""
    for (;;) {
      const c = line[i]
      if (c === undefined) fail(lineNo, line, `unterminated value of label ${name}`)
      if (c === "\"") break
      if (c === "\\") {
        const next = line[i + 1]
        if (next === "\\") value += "\\"
        else if (next === "\"") value += "\""
        else if (next === "n") value += "\n"
        else fail(lineNo, line, `bad escape \\${next ?? ""} in label ${name}`)
        i += 2
      } else {
        value += c
        i++
      }
    }
    labels[name] = value
    i++
    if (line[i] === ",") i++
    else if (line[i] !== "}") fail(lineNo, line, `expected , or } after label ${name}`)
  }
}

/** The family a sample belongs to: a histogram's or summary's suffixed series go to their base name. */
const familyOf = (families: ReadonlyMap<string, Family>, name: string): string => {
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!name.endsWith(suffix)) continue
    const base = name.slice(0, -suffix.length)
    const type = families.get(base)?.type
    if (type === "histogram" || (type === "summary" && suffix !== "_bucket")) return base
  }
  return name
}

/** Parses a whole exposition, or throws naming the first line that breaks the format. */
export const parse = (text: string): ReadonlyMap<string, Family> => {
  if (text.length > 0 && !text.endsWith("\n")) throw new Error("the exposition does not end with a newline")
  const families = new Map<string, Family>()
  const seen = new Set<string>()
  const closed = new Set<string>()
  let current: string | undefined
  const family = (name: string): Family => {
    let found = families.get(name)
    if (found === undefined) {
      found = { name, type: "untyped", help: undefined, samples: [] }
      families.set(name, found)
    }
    return found
  }
  const enter = (name: string, lineNo: number, line: string) => {
    if (current === name) return
    if (current !== undefined) closed.add(current)
    if (closed.has(name)) fail(lineNo, line, `lines of ${name} are not contiguous`)
    current = name
  }
  const lines = text.split("\n")
  lines.pop()
  lines.forEach((line, index) => {
    const lineNo = index + 1
    if (line.trim() === "") return
    if (line.startsWith("#")) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line)
      if (m === null) return // any other comment
      const [, keyword, name, rest] = m
      if (METRIC_NAME.exec(name!)?.[0] !== name) fail(lineNo, line, `bad metric name ${name}`)
      enter(name!, lineNo, line)
      const f = family(name!)
      if (keyword === "TYPE") {
        if (f.samples.length > 0) fail(lineNo, line, `TYPE of ${name} after its samples`)
        if (!TYPES.has(rest ?? "")) fail(lineNo, line, `unknown type ${rest}`)
        if (f.type !== "untyped" || seen.has(`TYPE ${name}`)) fail(lineNo, line, `second TYPE for ${name}`)
        seen.add(`TYPE ${name}`)
        f.type = rest as Family["type"]
      } else {
        if (f.help !== undefined) fail(lineNo, line, `second HELP for ${name}`)
        const help = rest ?? ""
        if (/\\([^n]|$)/.test(help.replace(/\\\\/g, ""))) fail(lineNo, line, "bad escape in HELP")
        f.help = help.replace(/\\(\\|n)/g, (_, c: string) => (c === "n" ? "\n" : "\\"))
      }
      return
    }
    const name = METRIC_NAME.exec(line)?.[0]
    if (name === undefined) return fail(lineNo, line, "expected a metric name")
    let i = name.length
    let labels: Record<string, string> = {}
    if (line[i] === "{") [labels, i] = parseLabels(line, i, lineNo)
    if (line[i] !== " ") fail(lineNo, line, "expected a space before the value")
    const [valueText, timestamp, extra] = line.slice(i + 1).trim().split(/\s+/)
    if (extra !== undefined || (timestamp !== undefined && !/^-?\d+$/.test(timestamp))) fail(lineNo, line, "trailing text after the value")
    const value = parseValue(valueText ?? "", lineNo, line)
    const base = familyOf(families, name)
    enter(base, lineNo, line)
    const f = family(base)
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`
    if (seen.has(key)) fail(lineNo, line, "series repeated")
    seen.add(key)
    if (f.type === "histogram") {
      if (name === `${base}_bucket` && labels.le === undefined) fail(lineNo, line, "histogram bucket without le")
      if (name === base) fail(lineNo, line, "histogram sample without _bucket, _sum or _count")
    }
    if (f.type === "counter" && !(value >= 0)) fail(lineNo, line, "negative counter")
    f.samples.push({ name, labels, value })
  })
  for (const f of families.values()) {
    if (f.type !== "histogram") continue
    // Each series' buckets are cumulative and end at +Inf, which equals its _count.
    const bySeries = new Map<string, Array<Sample>>()
    for (const s of f.samples) {
      const { le: _le, ...rest } = s.labels
      const key = JSON.stringify(Object.entries(rest).sort())
      bySeries.set(key, [...(bySeries.get(key) ?? []), s])
    }
    for (const [key, samples] of bySeries) {
      const buckets = samples.filter((s) => s.name === `${f.name}_bucket`)
      const countSample = samples.find((s) => s.name === `${f.name}_count`)
      const inf = buckets.find((b) => b.labels.le === "+Inf")
      if (inf === undefined || countSample === undefined || inf.value !== countSample.value) {
        throw new Error(`histogram ${f.name}${key}: needs a +Inf bucket equal to its _count`)
      }
      for (let j = 1; j < buckets.length; j++) {
        if (buckets[j]!.value < buckets[j - 1]!.value) throw new Error(`histogram ${f.name}${key}: buckets are not cumulative`)
      }
    }
  }
  return families
}

/** The value of one series, or undefined when it is absent: `labels` must match exactly. */
export const value = (families: ReadonlyMap<string, Family>, name: string, labels: Readonly<Record<string, string>> = {}): number | undefined => {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue
      const keys = Object.keys(s.labels)
      if (keys.length === Object.keys(labels).length && keys.every((k) => s.labels[k] === labels[k])) return s.value
    }
  }
  return undefined
}

/** Every sample of a name, with its labels. */
export const samples = (families: ReadonlyMap<string, Family>, name: string): ReadonlyArray<Sample> =>
  [...families.values()].flatMap((f) => f.samples.filter((s) => s.name === name))
