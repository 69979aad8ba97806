/**
 * The import graph of src/: each folder sits on one floor (docs/architecture.md) and imports only
 * from floors below its own; no circle of imports, type imports included; and, the part that
 * runs, no circle of value imports (one once left the syscall table with undefined entries at
 * module evaluation). Read with a plain parser of import and export lines; dynamic imports,
 * which run later, do not count.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"

const SRC = Path.resolve(import.meta.dirname, "../../src")

const sources = (dir: string): Array<string> =>
  Fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = Path.join(dir, e.name)
    return e.isDirectory() ? sources(path) : e.name.endsWith(".ts") ? [path] : []
  })

/** Whether one import or export statement is erased when types are stripped. */
const typeOnly = (statement: string): boolean => {
  if (/^(import|export)\s+type\b/.test(statement)) return true
  const named = /^(?:import|export)\s*\{([^}]*)\}\s*from/.exec(statement)
  if (named === null) return false
  const specifiers = named[1]!.split(",").map((s) => s.trim()).filter((s) => s !== "")
  return specifiers.length > 0 && specifiers.every((s) => s.startsWith("type "))
}

/** The files a source imports (for its values only, unless `types`), as absolute paths. */
export const imports = (file: string, text: string, types = false): Array<string> => {
  const out: Array<string> = []
  const statement = /^\s*((?:import|export)\b[^;'"]*?(?:from\s*)?["'](\.{1,2}\/[^"']+)["'])/gm
  for (const m of text.matchAll(statement)) {
    const whole = m[1]!.trim()
    if (!/^(import|export)\b/.test(whole) || (/^export\b/.test(whole) && !/\bfrom\b/.test(whole))) continue
    if (!types && typeOnly(whole)) continue
    out.push(Path.resolve(Path.dirname(file), m[2]!))
  }
  return out
}

/** Every circle (strongly connected set of two or more files, or a file importing itself). */
export const circles = (graph: ReadonlyMap<string, ReadonlyArray<string>>): Array<Array<string>> => {
  let index = 0
  const stack: Array<string> = []
  const onStack = new Set<string>()
  const indexOf = new Map<string, number>()
  const low = new Map<string, number>()
  const found: Array<Array<string>> = []
  const visit = (v: string): void => {
    indexOf.set(v, index)
    low.set(v, index++)
    stack.push(v)
    onStack.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue
      if (!indexOf.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, indexOf.get(w)!))
      }
    }
    if (low.get(v) === indexOf.get(v)) {
      const component: Array<string> = []
      let w: string
      do {
        w = stack.pop()!
        onStack.delete(w)
        component.push(w)
      } while (w !== v)
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort())
    }
  }
  for (const v of graph.keys()) if (!indexOf.has(v)) visit(v)
  return found
}

/**
 * The floors, lowest first, as docs/architecture.md draws them. Folders on one floor do not
 * import each other. `.` is src/index.ts, the package's entry, above everything.
 */
export const FLOORS: ReadonlyArray<ReadonlyArray<string>> = [
  ["text"],
  ["protocol"],
  ["sandbox", "client"],
  ["process"],
  ["supervision", "llm", "logs"],
  ["ipc"],
  ["metrics"],
  ["kernel", "observer", "top"],
  ["app"],
  ["cli"],
  ["."]
]

const floorOf = (file: string): number => {
  const rel = Path.relative(SRC, file)
  const folder = rel.includes("/") ? rel.slice(0, rel.indexOf("/")) : "."
  return FLOORS.findIndex((floor) => floor.includes(folder))
}

const folderOf = (file: string): string => {
  const rel = Path.relative(SRC, file)
  return rel.includes("/") ? rel.slice(0, rel.indexOf("/")) : "."
}

describe("the import graph of src/", () => {
  it("places every folder of src/ on a floor", () => {
    const folders = [...new Set(sources(SRC).map(folderOf))].sort()
    expect(folders.filter((f) => floorOf(Path.join(SRC, f, "x.ts")) < 0)).toEqual([])
    expect(folders).toEqual(FLOORS.flat().sort())
  })

  it("imports only downward: from a folder to folders of lower floors (type imports included)", () => {
    const upward = sources(SRC).flatMap((f) =>
      imports(f, Fs.readFileSync(f, "utf8"), true)
        .filter((i) => i.startsWith(`${SRC}/`) && folderOf(i) !== folderOf(f) && floorOf(i) >= floorOf(f))
        .map((i) => `${Path.relative(SRC, f)} → ${Path.relative(SRC, i)}`))
    expect(upward, `imports that do not run downward:\n${upward.join("\n")}`).toEqual([])
  })

  const circlesOf = (types: boolean): Array<string> => {
    const files = sources(SRC)
    expect(files.length).toBeGreaterThan(100)
    const graph = new Map(files.map((f) => [f, imports(f, Fs.readFileSync(f, "utf8"), types)]))
    return circles(graph).map((c) => c.map((f) => Path.relative(SRC, f)).join(" → "))
  }

  it("has no circle of value imports", () => {
    const named = circlesOf(false)
    expect(named, `value-import circles:\n${named.join("\n")}`).toEqual([])
  })

  it("has no circle of imports, type imports included", () => {
    const named = circlesOf(true)
    expect(named, `import circles:\n${named.join("\n")}`).toEqual([])
  })

  it("reaches nothing outside src/ (supervisors/ and examples/ import src/, not the other way)", () => {
    const outside = sources(SRC).flatMap((f) =>
      imports(f, Fs.readFileSync(f, "utf8"), true).filter((i) => !i.startsWith(`${SRC}/`)).map((i) => `${Path.relative(SRC, f)} → ${Path.relative(SRC, i)}`))
    expect(outside).toEqual([])
  })

  it("the parser and the circle finder see what they should", () => {
    const text = [
      `import { Effect } from "effect"`,
      `import * as A from "./a.ts"`,
      `import type { B } from "./b.ts"`,
      `import { type C, type D } from "./c.ts"`,
      `import { type E, F } from "./e.ts"`,
      `export { G } from "../g.ts"`,
      `export type { H } from "./h.ts"`,
      `import "./side.ts"`,
      `import {\n  I,\n  J\n} from "./ij.ts"`
    ].join("\n")
    expect(imports("/x/y.ts", text)).toEqual(["/x/a.ts", "/x/e.ts", "/g.ts", "/x/side.ts", "/x/ij.ts"])
    expect(imports("/x/y.ts", text, true)).toEqual(["/x/a.ts", "/x/b.ts", "/x/c.ts", "/x/e.ts", "/g.ts", "/x/h.ts", "/x/side.ts", "/x/ij.ts"])
    const graph = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]], ["e", ["e"]]])
    expect(circles(graph)).toEqual([["a", "b", "c"], ["e"]])
  })
})
