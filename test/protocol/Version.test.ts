/** The version the kernel reports is the package's. */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { expect, it } from "vitest"
import { VERSION } from "../../src/protocol/Version.ts"

it("VERSION equals package.json's version", () => {
  const pkg = JSON.parse(Fs.readFileSync(Path.resolve(import.meta.dirname, "../../package.json"), "utf8")) as { version: string }
  expect(VERSION).toBe(pkg.version)
})
