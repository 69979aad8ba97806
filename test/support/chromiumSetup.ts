/**
 * vitest globalSetup: makes sure Debian's Chromium is there before any test file runs, once per
 * run (test files run in parallel; two apt-gets would fight over dpkg's lock), and hands the
 * outcome to the browser tests through `inject("chromium")`. It never fails the run itself:
 * a test that needs the browser fails with the reason and how to install it.
 */
import type { TestProject } from "vitest/node"
import * as Chromium from "./chromium.ts"

declare module "vitest" {
  export interface ProvidedContext {
    chromium: Chromium.Found
  }
}

export default function setup(project: TestProject): void {
  project.provide("chromium", Chromium.ensure((line) => process.stderr.write(`[chromium] ${line}\n`)))
}
