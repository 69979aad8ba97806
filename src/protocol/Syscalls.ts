/**
 * Every syscall's arguments as a schema, in one place (DESIGN.md's syscall table): the kernel's
 * handlers (kernel/syscalls/) decode a request's args with these, and the TypeScript client
 * (client/Calls.ts) types the args it builds with their types, so the two cannot drift. SPAWN's
 * are protocol/SpawnArgs.ts; the answers are protocol/Results.ts and, for LIST and TREE,
 * protocol/Rows.ts. A syscall with no arguments (LIST, TREE, HEARTBEAT) takes `{}`; NOOP echoes
 * whatever it is given.
 */
import { Schema } from "effect"

export { SpawnRequest as SpawnArgs } from "./SpawnArgs.ts"

const Name = Schema.String.check(Schema.isMinLength(1))

/** HELLO: the protocol version the client speaks, and the name it takes (a client's mailbox). @category models */
export const HelloArgs = Schema.Struct({
  version: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)),
  name: Schema.optionalKey(Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(255)))
})

/** The `{name}` or `{id}` that KILL, WAIT and STAT address an agent by (either, as the protocol table has it). @category models */
export const Target = {
  name: Schema.optionalKey(Name),
  id: Schema.optionalKey(Name)
}

/** KILL: the agent and the signal (a name such as `SIGTERM` or `TERM`, or a number; SIGTERM when left out). @category models */
export const KillArgs = Schema.Struct({
  ...Target,
  signal: Schema.optionalKey(Schema.Union([Schema.String, Schema.Int]))
})

/** WAIT: the agent, and how long to wait for its end (for ever when left out). @category models */
export const WaitArgs = Schema.Struct({
  ...Target,
  timeoutMs: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)))
})

/** STAT: one agent, or (neither field) the kernel itself. @category models */
export const StatArgs = Schema.Struct(Target)

/** SEND: to a name, any CBOR value as the payload (carried exactly as written); `nowait` fails at once on a full mailbox. @category models */
export const SendArgs = Schema.Struct({
  to: Name,
  payload: Schema.Unknown,
  nowait: Schema.optionalKey(Schema.Boolean)
})

/** RECV: how long to wait for a message (for ever when left out). @category models */
export const RecvArgs = Schema.Struct({
  timeoutMs: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)))
})

/** ACK: the message received. @category models */
export const AckArgs = Schema.Struct({
  msgId: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))
})

/** LOG: one structured record into the caller's log. @category models */
export const LogArgs = Schema.Struct({
  level: Schema.Literals(["trace", "debug", "info", "warn", "error", "fatal"]),
  msg: Schema.String.check(Schema.isMaxLength(64 * 1024)),
  fields: Schema.optionalKey(Schema.Record(Schema.String, Schema.Unknown))
})

/** Most lines one LOGS answers. @category models */
export const MAX_LOG_LINES = 10_000

/** LOGS: a name's newest `n` lines at or after `since`; `follow` pushes the later ones. @category models */
export const LogsArgs = Schema.Struct({
  name: Name,
  n: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: MAX_LOG_LINES }))),
  since: Schema.optionalKey(Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))),
  follow: Schema.optionalKey(Schema.Boolean)
})

/** SUBSCRIBE: the event types wanted, by prefix (all when left out or empty). @category models */
export const SubscribeArgs = Schema.Struct({
  events: Schema.optionalKey(Schema.Array(Schema.String))
})

/** One message of a THINK conversation. @category models */
export const ThinkMessage = Schema.Struct({
  role: Schema.Literals(["system", "user", "assistant"]),
  content: Schema.String
})

/** THINK: a prompt or a conversation (exactly one), the model, the answer's length, streaming. @category models */
export const ThinkArgs = Schema.Struct({
  prompt: Schema.optionalKey(Schema.String),
  messages: Schema.optionalKey(Schema.Array(ThinkMessage)),
  model: Schema.optionalKey(Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(255))),
  maxTokens: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))),
  stream: Schema.optionalKey(Schema.Boolean)
})

/** CHILD: OTP's supervisor runtime API on the supervisor at a path. @category models */
export const ChildArgs = Schema.Struct({
  supervisor: Name,
  action: Schema.Literals(["start", "terminate", "restart", "delete"]),
  name: Schema.optionalKey(Name),
  /** `start` on a supervisor that is not simple_one_for_one: the child, as a tree file declares it. */
  spec: Schema.optionalKey(Schema.Unknown),
  /** `start` on a simple_one_for_one supervisor: the args replacing its template's. */
  args: Schema.optionalKey(Schema.Array(Schema.String))
})

/** METRICS: a map with no fields yet (Schema.Struct({}) would take any value at all). @category models */
export const MetricsArgs = Schema.Record(Schema.String, Schema.Unknown)

/** A syscall's args as the client builds them. @category models */
export type Args<S extends Schema.Top> = S["Type"]
