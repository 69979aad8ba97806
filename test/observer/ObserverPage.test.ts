/**
 * The observer's page as served: the script is valid JavaScript (a syntax error would only
 * show in a browser), nothing refers to another origin, and the page loads its script and
 * style from the observer itself (the server's CSP allows nothing else). The script is
 * src/observer/page/observer.ts with its types stripped, a file `npm run typecheck` checks.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"
import * as ObserverPage from "../../src/observer/ObserverPage.ts"

const root = Path.resolve(import.meta.dirname, "../..")

describe("ObserverPage", () => {
  it("the script parses", () => {
    expect(() => new Function(ObserverPage.script())).not.toThrow()
  })

  it("refers to no other origin", () => {
    for (const text of [ObserverPage.html, ObserverPage.css, ObserverPage.script()]) {
      // The SVG namespace is a name, not a request.
      const urls = [...text.matchAll(/(?:https?:)?\/\/[A-Za-z0-9.-]+\.[A-Za-z]{2,}[^\s"')]*/g)].map((m) => m[0])
      expect(urls.filter((u) => u !== "http://www.w3.org/2000/svg")).toEqual([])
    }
  })

  it("loads its script and style from the observer, with no inline script or style", () => {
    expect(ObserverPage.html).toContain('<script src="/observer.js" defer></script>')
    expect(ObserverPage.html).toContain('<link rel="stylesheet" href="/observer.css">')
    expect(ObserverPage.html).not.toMatch(/<script>|<style|\sstyle=|\son[a-z]+=/)
  })

  it("has the elements the script fills", () => {
    const ids = [...ObserverPage.script().matchAll(/\$\("([a-z-]+)"\)/g)].map((m) => m[1]!)
    expect(ids.length).toBeGreaterThan(5)
    for (const id of new Set(ids)) expect(ObserverPage.html).toContain(`id="${id}"`)
  })

  it("is page/observer.ts with its types stripped: the same code in the same places, made once", () => {
    const source = Fs.readFileSync(ObserverPage.scriptFile, "utf8")
    const script = ObserverPage.script()
    // Types become blanks: every line keeps its number, so the browser's positions are the file's.
    expect(script.split("\n")).toHaveLength(source.split("\n").length)
    expect(source).toMatch(/^import type /m)
    expect(script).not.toMatch(/^\s*(import|export)\b/m)
    expect(script).not.toMatch(/: PageNode|: LifecycleEvent|as HTMLElement/)
    expect(ObserverPage.script()).toBe(script)
  })

  it("is type-checked with the DOM's types by `npm run typecheck`, apart from the kernel's code", () => {
    const pkg = JSON.parse(Fs.readFileSync(Path.join(root, "package.json"), "utf8")) as { scripts: Record<string, string> }
    expect(pkg.scripts.typecheck).toContain("tsc --noEmit -p tsconfig.json")
    expect(pkg.scripts.typecheck).toContain("tsc --noEmit -p src/observer/page/tsconfig.json")
    const page = Fs.readFileSync(Path.join(root, "src/observer/page/tsconfig.json"), "utf8")
    expect(page).toMatch(/"lib": \[[^\]]*"dom"/)
    expect(page).toMatch(/"files": \["observer.ts"\]/)
  })
})
