import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Real processes, sockets and namespaces: generous per-test limits, never asserted on.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Debian's chromium for the browser tests, installed once per run when missing (root + apt).
    globalSetup: ["test/support/chromiumSetup.ts", "test/support/rootlessSetup.ts"]
  }
})
