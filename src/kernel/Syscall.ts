/**
 * The shape every syscall file shares: its number and a handler from the request's args and
 * the calling session to a result or a KernelError. The kernel's dispatch table is an array
 * of these; a number without one answers ENOSYS.
 */
import { Effect, Schema } from "effect"
import * as Cbor from "../protocol/Cbor.ts"
import * as SchemaProblems from "../text/SchemaProblems.ts"
import type { OpNumber } from "../protocol/Op.ts"
import * as KernelError from "../process/KernelError.ts"
import type { Agents } from "../process/Agents.ts"
import type { Events } from "../process/Events.ts"
import type { KernelConfig } from "../process/KernelConfig.ts"
import type { Call, Caller } from "../process/Caller.ts"
import type { Sessions } from "./Sessions.ts"
import type { Supervision } from "../supervision/Supervision.ts"
import type { LlmScheduler } from "../llm/Scheduler.ts"
import type { Router } from "../ipc/Router.ts"
import type { AgentLogs } from "../logs/AgentLogs.ts"
import type { KernelMetrics } from "../metrics/KernelMetrics.ts"

export type { Call, Caller } from "../process/Caller.ts"

/** What a syscall handler may use: the kernel's services. @category models */
export type Services = KernelConfig | Sessions | Agents | Events | Supervision | Router | LlmScheduler | AgentLogs | KernelMetrics

/**
 * How a syscall takes its args off the wire, where they arrive as the client's bytes
 * (Message.requestKeep): built as values (`"value"`, nearly every syscall), left as those bytes
 * (`"raw"`: NOOP echoes them), or built with the entries a Cbor.Keep names left as bytes (SEND's
 * payload, which goes on to its receiver exactly as written).
 * @category models
 */
export type ArgsForm = "value" | "raw" | Cbor.Keep

/** One syscall: its number, how it reads its args, and its handler. @category models */
export interface Syscall<R = Services> {
  readonly op: OpNumber
  readonly args: ArgsForm
  readonly handle: (args: unknown, caller: Caller, call: Call) => Effect.Effect<unknown, KernelError.KernelError, R>
}

/** Declares a syscall; its args are built as values unless `args` says otherwise. @category constructors */
export const make = <R>(
  op: OpNumber,
  handle: (args: unknown, caller: Caller, call: Call) => Effect.Effect<unknown, KernelError.KernelError, R>,
  args: ArgsForm = "value"
): Syscall<R> => ({ op, args, handle })

/** How the frame decoder reads args of this form (Message.requestKeep). */
export const keepOf = (form: ArgsForm): true | Cbor.Keep => (form === "raw" ? true : form === "value" ? BUILD : form)

const BUILD: Cbor.Keep = {}

/**
 * A request's args in the form its syscall reads them, or the EINVAL for args that are
 * well-formed CBOR but not valid (bad UTF-8, a duplicate key, nesting too deep). Args already
 * in that form (decoded so at the frame, or made inside the kernel) are taken as they are; args
 * kept whole (they came before the op) are decoded now.
 */
export const readArgs = (args: unknown, form: ArgsForm): unknown => {
  if (args instanceof Cbor.Raw) {
    if (form === "raw") return args
    try {
      return args.decode(form === "value" ? undefined : form)
    } catch (e) {
      return invalidArgs(e instanceof Cbor.CborError ? e : new Cbor.CborError("Malformed", String(e)))
    }
  }
  return args instanceof Cbor.Invalid ? invalidArgs(args.error) : args
}

const invalidArgs = (error: Cbor.CborError): KernelError.InvalidArgument =>
  new KernelError.InvalidArgument({ message: `invalid args: ${error.message}` })

/**
 * Decodes a syscall's args with a schema; every problem is reported with its path in one
 * EINVAL message.
 */
export const decodeArgs = <S extends Schema.Top>(schema: S) => {
  const decode = Schema.decodeUnknownEffect(schema)
  return (args: unknown): Effect.Effect<S["Type"], KernelError.InvalidArgument, S["DecodingServices"]> =>
    decode(args ?? {}, { errors: "all" }).pipe(
      Effect.mapError((error) => new KernelError.InvalidArgument({ message: `invalid args: ${SchemaProblems.describe(error.issue)}` }))
    )
}
