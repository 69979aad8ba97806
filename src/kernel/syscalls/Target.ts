/** The `{name}` or `{id}` that KILL, WAIT and STAT address an agent by. */
import { Effect } from "effect"
import * as KernelError from "../../process/KernelError.ts"

export { Target } from "../../protocol/Syscalls.ts"

/** The agent a request names: its id, else its name; EINVAL when it names none. @category constructors */
export const get = (args: { readonly name?: string; readonly id?: string }, op: string): Effect.Effect<string, KernelError.InvalidArgument> => {
  const target = args.id ?? args.name
  return target === undefined
    ? Effect.fail(new KernelError.InvalidArgument({ message: `${op}: name or id is required`, field: "name" }))
    : Effect.succeed(target)
}
