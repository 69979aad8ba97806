/**
 * The observer's page as served: the script is valid JavaScript (a syntax error would only
 * show in a browser), nothing refers to another origin, and the page loads its script and
 * style from the observer itself (the server's CSP allows nothing else).
 */
import { describe, expect, it } from "vitest"
import * as ObserverPage from "../../src/observer/ObserverPage.ts"

describe("ObserverPage", () => {
  it("the script parses", () => {
    expect(() => new Function(ObserverPage.script)).not.toThrow()
  })

  it("refers to no other origin", () => {
    for (const text of [ObserverPage.html, ObserverPage.css, ObserverPage.script]) {
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
    const ids = [...ObserverPage.script.matchAll(/\$\("([a-z-]+)"\)/g)].map((m) => m[1]!)
    expect(ids.length).toBeGreaterThan(5)
    for (const id of new Set(ids)) expect(ObserverPage.html).toContain(`id="${id}"`)
  })
})
