/** TREE (0x30): `{}` → the supervision tree from init down, each node with its state, pid and restarts. */
import { Effect } from "effect"
import { Op } from "../../protocol/Op.ts"
import { Supervision } from "../../supervision/Supervision.ts"
import * as Syscall from "../Syscall.ts"

/** @category syscalls */
export const Tree = Syscall.make(Op.TREE, () =>
  Effect.gen(function* () {
    return (yield* Supervision).tree()
  }))
