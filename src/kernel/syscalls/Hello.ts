/**
 * HELLO (0x02): the first request on a connection. The client states the protocol version it
 * speaks and, optionally, a name (a client's mailbox, while it is connected); the kernel
 * answers who the caller is, who the kernel is and the connection's limits.
 */
import { Effect } from "effect"
import { Router } from "../../ipc/Router.ts"
import { Op } from "../../protocol/Op.ts"
import { HelloArgs } from "../../protocol/Syscalls.ts"
import type { HelloResult } from "../../protocol/Results.ts"
import { PROTOCOL_VERSION, VERSION } from "../../protocol/Version.ts"
import { KernelConfig } from "../../process/KernelConfig.ts"
import * as KernelError from "../../process/KernelError.ts"
import * as Syscall from "../Syscall.ts"


const decode = Syscall.decodeArgs(HelloArgs)

/** @category syscalls */
export const Hello = Syscall.make(Op.HELLO, (args, caller) =>
  Effect.gen(function* () {
    const hello = yield* decode(args)
    if (hello.version !== PROTOCOL_VERSION) {
      return yield* new KernelError.ProtocolError({
        message: `protocol version ${hello.version} is not supported; this kernel speaks version ${PROTOCOL_VERSION}`
      })
    }
    if (hello.name !== undefined && caller.kind === "client" && caller.name !== undefined && caller.name !== hello.name) {
      // One name per client connection, as one registered name per Erlang process: a second
      // would leave a mailbox under the first one for as long as the connection lasts. (An
      // agent's name is the kernel's to give; what it says at HELLO is ignored.)
      return yield* new KernelError.InvalidArgument({
        message: `hello: this connection is already named ${JSON.stringify(caller.name)}; connect again to use ${JSON.stringify(hello.name)}`,
        field: "name"
      })
    }
    if (hello.name !== undefined && caller.kind === "client" && caller.name !== hello.name) {
      caller.setName(hello.name)
      // A named client has a mailbox under its name while it is connected.
      ;(yield* Router).registerClient(hello.name, caller.onClose)
    }
    const config = yield* KernelConfig
    return {
      agent: {
        session: caller.sessionId,
        name: caller.name ?? null,
        kind: caller.kind,
        pid: caller.peer.pid,
        uid: caller.peer.uid,
        gid: caller.peer.gid
      },
      kernel: { id: config.kernelId, version: VERSION, protocol: PROTOCOL_VERSION, pid: process.pid },
      limits: { maxFrame: config.maxFrame, maxInFlight: config.maxInFlight }
    } satisfies HelloResult
  }))
