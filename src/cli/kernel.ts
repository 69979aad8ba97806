/** `agentos kernel`: runs the kernel in the foreground until SIGINT/SIGTERM, then exits 0. */
import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import * as Daemon from "../app/Daemon.ts"
import * as Provider from "../llm/Provider.ts"
import { describeAgentDefaults, parseUidList } from "../process/KernelConfig.ts"
import * as Isolation from "../sandbox/Isolation.ts"
import * as Shared from "./shared.ts"

export const kernel = Command.make("kernel", {
  socket: Shared.socket,
  verbose: Shared.verbose,
  allowUid: Flag.String("allow-uid").pipe(
    Flag.withDescription("comma-separated uids besides the kernel's own allowed to connect (also $AGENTOS_ALLOW_UIDS)"),
    Flag.optional
  ),
  maxInFlight: Flag.Int("max-in-flight").pipe(
    Flag.withDescription("requests one connection may have in flight (default 1024)"),
    Flag.optional
  ),
  isolation: Shared.isolation,
  ...Shared.agentDefaults
}, ({ socket, allowUid, maxInFlight, isolation, defaultPids, defaultMemory, defaultCpu }) =>
  Effect.gen(function* () {
    Shared.stopWithNpm()
    const uids = Option.getOrElse(allowUid, () => process.env.AGENTOS_ALLOW_UIDS ?? "")
    const allowUids = yield* Effect.try({ try: () => parseUidList(uids), catch: (e) => e as Error })
    yield* Daemon.run(
      {
        socketPath: Shared.socketPath(socket),
        allowUids,
        isolation,
        agentDefaults: Shared.resolveAgentDefaults({ defaultPids, defaultMemory, defaultCpu }),
        ...Option.match(maxInFlight, { onNone: () => ({}), onSome: (n) => ({ maxInFlight: n }) })
      },
      (settings, machine) =>
        Effect.gen(function* () {
          yield* Console.log(`agentos kernel ${settings.kernelId} listening on ${settings.socketPath} (pid ${process.pid})`)
          for (const line of Isolation.summary(machine, settings.isolation === "weak")) yield* Console.log(line)
          yield* Console.log(`limits: ${describeAgentDefaults(settings.agentDefaults)}`)
          // The kernel has already built its provider from the same environment: this cannot fail here.
          const provider = yield* Provider.fromEnv().pipe(Effect.option)
          if (provider._tag === "Some") {
            yield* Console.log(`llm: ${Provider.describe(provider.value)}`)
            if (provider.value.kind === "offline") yield* Console.log(`llm: ${Provider.offlineHint}`)
          }
        })
    )
  })).pipe(Command.withDescription("Run the kernel in the foreground"))
