/**
 * LIST (0x12): the agents the kernel runs, one record each. Agents arrive with the launcher;
 * until then the table is empty.
 */
import { Effect } from "effect"
import { Op } from "../../protocol/Op.ts"
import * as Syscall from "../Syscall.ts"

/** @category syscalls */
export const List = Syscall.make(Op.LIST, () => Effect.succeed([]))
