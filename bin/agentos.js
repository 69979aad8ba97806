#!/usr/bin/env node
// The `agentos` command. AgentOS is TypeScript run by Node 24's type stripping; under an older
// Node (a global Node 20, say) say so plainly instead of failing on the first type annotation.
const major = Number(process.versions.node.split(".")[0])
if (major < 24) {
  process.stderr.write(
    `agentos: needs Node 24 or later, this is Node ${process.versions.node}; run it through npx (npx agentos ...) or npm scripts, which use the project's pinned Node 24\n`
  )
  process.exit(1)
}
await import("../src/cli/main.ts")
