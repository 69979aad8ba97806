/**
 * METRICS (0x43): `{}` → `{text}`, every kernel metric in Prometheus's text exposition format
 * (what the observer serves at /metrics and `agentos metrics` prints; docs/metrics.md). Not in an
 * agent's default caps: it shows every agent's figures, so it needs a grant, like SUBSCRIBE.
 */
import { Effect } from "effect"
import { KernelMetrics } from "../../metrics/KernelMetrics.ts"
import { Op } from "../../protocol/Op.ts"
import { MetricsArgs } from "../../protocol/Syscalls.ts"
import * as Syscall from "../Syscall.ts"

const decode = Syscall.decodeArgs(MetricsArgs)

/** @category syscalls */
export const Metrics = Syscall.make(Op.METRICS, (args) =>
  Effect.gen(function* () {
    yield* decode(args)
    return { text: yield* (yield* KernelMetrics).render }
  }))
