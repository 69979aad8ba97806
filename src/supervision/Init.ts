/**
 * PID 1: the root supervisor every kernel starts. Its children are the kernel's own services,
 * then whatever `agentos boot` hands it (the user's tree). It tolerates no failure
 * (`maxRestarts: 0`): a failure that escalates this far means the system cannot keep its
 * promises, so it shuts down in order and `agentos boot` exits non-zero. Here, in src/supervision,
 * so the daemon imports it downward; supervisors/init.ts, where DESIGN.md puts PID 1, names it.
 */
import { Effect, Result } from "effect"
import * as Cgroups from "../sandbox/Cgroups.ts"
import type { ResolvedTree } from "./ResolvedTree.ts"
import { decodeTree, defineTree, service, supervisor } from "./Tree.ts"

/** How often the janitor looks for cgroups left by kernels that died. */
const JANITOR_INTERVAL = "60 seconds"

/** The kernel's own services, as children of init. */
const janitor = (kernelId: string) =>
  Effect.forever(Effect.sleep(JANITOR_INTERVAL).pipe(Effect.andThen(Effect.sync(() => Cgroups.removeStale(kernelId)))))

/** PID 1's spec for a kernel. */
export const init = (kernelId: string): ResolvedTree => {
  const tree = defineTree(supervisor("init", {
    strategy: "one_for_one",
    intensity: { maxRestarts: 0, withinMs: 1000 },
    children: [service("cgroup-janitor", janitor(kernelId))]
  }))
  const decoded = decodeTree(tree)
  if (Result.isFailure(decoded)) throw new Error(`init's tree: ${decoded.failure.message}`)
  return decoded.success
}
