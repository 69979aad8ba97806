/**
 * A supervisor's own lifecycle: starting its children, running, busy restarting one (or a
 * range, under one_for_all / rest_for_one), stopping them in reverse start order, and its two
 * ends: `stopped` on request, `failed` when a child could not be started or the restart
 * intensity was exceeded (it then terminates its children and escalates to its parent, as
 * supervisor.erl does). Pure: the supervisor's fiber acts and feeds the results in as events.
 */
import { assign, setup } from "xstate"

/** What the machine remembers of the supervisor. @category models */
export interface Context {
  /** Restart decisions taken (each counted once against intensity). */
  readonly restarts: number
  /** The child whose end caused the last restart (OTP's offender). */
  readonly offender: string | null
  /** Why it failed: the start error, or the intensity report. */
  readonly reason: string | null
}

/** What the supervisor's fiber tells the machine. @category models */
export type Event =
  | { readonly type: "STARTED" }
  | { readonly type: "START_FAILED"; readonly reason: string }
  | { readonly type: "CHILD_RESTARTING"; readonly child: string }
  | { readonly type: "CHILD_RESTARTED" }
  | { readonly type: "INTENSITY_EXCEEDED"; readonly reason: string }
  | { readonly type: "STOP" }
  | { readonly type: "STOPPED" }

/** A supervisor's lifecycle. @category lifecycle */
export const SupervisorLifecycle = setup({
  types: {
    context: {} as Context,
    events: {} as Event
  },
  actions: {
    recordRestart: assign(({ context }, params: { readonly child: string }) => ({
      restarts: context.restarts + 1,
      offender: params.child
    })),
    recordFailure: assign((_, params: { readonly reason: string }) => ({ reason: params.reason }))
  }
}).createMachine({
  id: "supervisor",
  initial: "starting",
  context: { restarts: 0, offender: null, reason: null },
  states: {
    starting: {
      on: {
        STARTED: { target: "running" },
        // OTP's init_children: the children already started are terminated, the start fails.
        START_FAILED: {
          target: "failed",
          actions: { type: "recordFailure", params: ({ event }) => ({ reason: event.reason }) }
        },
        INTENSITY_EXCEEDED: {
          target: "failed",
          actions: { type: "recordFailure", params: ({ event }) => ({ reason: event.reason }) }
        },
        STOP: { target: "stopping" }
      }
    },
    running: {
      on: {
        CHILD_RESTARTING: {
          target: "restarting",
          actions: { type: "recordRestart", params: ({ event }) => ({ child: event.child }) }
        },
        INTENSITY_EXCEEDED: {
          target: "failed",
          actions: { type: "recordFailure", params: ({ event }) => ({ reason: event.reason }) }
        },
        STOP: { target: "stopping" }
      }
    },
    restarting: {
      on: {
        CHILD_RESTARTED: { target: "running" },
        // Another death, or OTP's try_again after a failed restart: one more decision.
        CHILD_RESTARTING: { actions: { type: "recordRestart", params: ({ event }) => ({ child: event.child }) } },
        INTENSITY_EXCEEDED: {
          target: "failed",
          actions: { type: "recordFailure", params: ({ event }) => ({ reason: event.reason }) }
        },
        STOP: { target: "stopping" }
      }
    },
    stopping: {
      on: {
        STOPPED: { target: "stopped" }
      }
    },
    stopped: { type: "final" },
    failed: { type: "final" }
  }
})
