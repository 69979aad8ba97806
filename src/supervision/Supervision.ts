/**
 * The kernel's supervision: PID 1 (`init`, the root supervisor of src/supervision/Init.ts) and a
 * registry of every running supervisor by path, for TREE and CHILD. `agentos boot` hands it
 * the user's tree, which starts as init's child; init tolerates no failure (intensity 0), so an
 * escalation that reaches it fails it, and the whole system shuts down in order.
 */
import { Context, Deferred, Effect, Layer, type Scope } from "effect"
import * as Path from "node:path"
import * as KernelError from "../process/KernelError.ts"
import type { ResolvedChild, ResolvedSupervisor, ResolvedTree } from "./ResolvedTree.ts"
import * as Supervisor from "./Supervisor.ts"

/** The supervision service. @category services */
export class Supervision extends Context.Service<Supervision, {
  /** Starts PID 1 with its own children (kernel services); done once, by the kernel. */
  readonly startInit: (spec: ResolvedSupervisor) => Effect.Effect<Supervisor.Handle, KernelError.KernelError, Supervisor.Services | Scope.Scope>
  /** Starts a user's tree as a child of init; relative `run` paths are resolved against baseDir. */
  readonly boot: (tree: ResolvedTree, baseDir: string) => Effect.Effect<Supervisor.TreeNode, KernelError.KernelError>
  /** A running supervisor by path (`init/root/workers`). */
  readonly find: (path: string) => Supervisor.Handle | undefined
  /** The whole tree from init down, or null before init starts. */
  readonly tree: () => Supervisor.TreeNode | null
  /** Completes with the chain of failures if init itself fails. */
  readonly failed: Deferred.Deferred<string>
}>()("agentos/supervision/Supervision") {
  /** @category layers */
  static readonly layer = Layer.effect(Supervision, Effect.gen(function* () {
    const registry = new Map<string, Supervisor.Handle>()
    const failed = yield* Deferred.make<string>()
    let init: Supervisor.Handle | undefined
    const context: Supervisor.Context = {
      baseDir: process.cwd(),
      register: (handle) => {
        registry.set(handle.path, handle)
        return () => void (registry.get(handle.path) === handle && registry.delete(handle.path))
      }
    }
    return Supervision.of({
      startInit: Effect.fn("Supervision.startInit")(function* (spec: ResolvedSupervisor) {
        const handle = yield* Supervisor.start(spec, spec.name, context)
        init = handle
        yield* Deferred.await(handle.failed).pipe(
          Effect.flatMap((chain) => Deferred.succeed(failed, chain)),
          Effect.forkScoped
        )
        return handle
      }),
      boot: Effect.fn("Supervision.boot")(function* (tree: ResolvedTree, baseDir: string) {
        if (init === undefined) return yield* new KernelError.Busy({ message: "boot: the kernel's init is not running" })
        return yield* init.call((actor) => actor.startChild(resolveRuns(tree, baseDir), false))
      }),
      find: (path) => registry.get(path),
      tree: () => init?.tree() ?? null,
      failed
    })
  }))
}

/** Makes every agent's relative `run` path absolute against the tree file's directory. */
export const resolveRuns = <C extends ResolvedChild>(node: C, baseDir: string): C => {
  switch (node._tag) {
    case "supervisor":
      return { ...node, children: node.children.map((c) => resolveRuns(c, baseDir)) }
    case "agent": {
      const isPath = node.run.includes("/") || /\.(ts|mts|js|mjs|cjs|py)$/.test(node.run)
      return isPath && !Path.isAbsolute(node.run) ? { ...node, run: Path.resolve(baseDir, node.run) } : node
    }
    case "service":
      return node
  }
}
