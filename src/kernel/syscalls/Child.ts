/**
 * CHILD (0x32): OTP's supervisor runtime API on a named supervisor.
 * `{supervisor, action: "start" | "terminate" | "restart" | "delete", name?, spec?, args?}` →
 * the child's node. `start` on a simple_one_for_one supervisor makes a dynamic child from its
 * template (`name`, optional `args` replacing the template's); on another supervisor it takes a
 * child `spec` as a tree file would declare it (`{_tag: "agent", name, run, ...}`).
 */
import { Effect, Result } from "effect"
import { Op } from "../../protocol/Op.ts"
import { ChildArgs } from "../../protocol/Syscalls.ts"
import { Supervision } from "../../supervision/Supervision.ts"
import { decodeTree } from "../../supervision/Tree.ts"
import * as KernelError from "../../process/KernelError.ts"
import * as Syscall from "../Syscall.ts"

const decode = Syscall.decodeArgs(ChildArgs)

/** @category syscalls */
export const Child = Syscall.make(Op.CHILD, (args) =>
  Effect.gen(function* () {
    const request = yield* decode(args)
    const supervision = yield* Supervision
    const handle = supervision.find(request.supervisor)
    if (handle === undefined) return yield* new KernelError.NotFound({ message: `child: no supervisor at ${request.supervisor}` })
    const name = request.name
    switch (request.action) {
      case "start": {
        if (handle.spec.strategy === "simple_one_for_one") {
          return yield* handle.call((actor) => actor.startDynamic(name, request.args))
        }
        if (request.spec === undefined) {
          return yield* new KernelError.InvalidArgument({ message: "child start: spec is required (the supervisor is not simple_one_for_one)", field: "spec" })
        }
        const spec = typeof request.spec === "object" && request.spec !== null && !("_tag" in request.spec)
          ? { _tag: "agent", ...request.spec }
          : request.spec
        const decoded = decodeTree({ _tag: "supervisor", name: "spec", children: [spec] })
        if (Result.isFailure(decoded)) {
          return yield* new KernelError.InvalidArgument({
            message: `child start: ${decoded.failure.problems.map((p) => p.replace(/^children\[0\]\.?/, "spec.")).join("; ")}`,
            field: "spec"
          })
        }
        const child = decoded.success.children[0]!
        return yield* handle.call((actor) => actor.startChild(child, false))
      }
      case "terminate":
      case "restart":
      case "delete": {
        if (name === undefined) return yield* new KernelError.InvalidArgument({ message: `child ${request.action}: name is required`, field: "name" })
        return yield* handle.call((actor) =>
          request.action === "terminate" ? actor.terminateChild(name) : request.action === "restart" ? actor.restartChild(name) : actor.deleteChild(name)
        )
      }
    }
  }))
