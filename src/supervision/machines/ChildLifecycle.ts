/**
 * One child (agent, supervisor or service) as its supervisor sees it: starting, running,
 * stopping, waiting out a backoff, or ended (`exited` after a normal end or a stop, `failed`
 * after an abnormal one). `restarting` is OTP's `restarting` in which_children: the child has
 * ended or failed to start, and the supervisor has yet to say whether it comes back. Pure: the
 * fiber owning the child starts and kills it, and feeds the results in as events.
 */
import { assign, setup } from "xstate"

/** What the machine remembers of the child. @category models */
export interface Context {
  /** How many times the supervisor restarted it. */
  readonly restarts: number
  /** Why its last run ended, or its last start failed (`shutdown` when stopped on request). */
  readonly lastReason: string | null
  /** Whether that end was normal (exit code 0, or stopped on request). */
  readonly normal: boolean
  /** Its process id while it has one (null for services, and between runs). */
  readonly pid: number | null
  /** The wait of the current or last backoff. */
  readonly backoffMs: number
}

/** What the owning fiber tells the machine. @category models */
export type Event =
  | { readonly type: "STARTED"; readonly pid: number | null }
  | { readonly type: "START_FAILED"; readonly reason: string }
  | { readonly type: "EXITED"; readonly reason: string; readonly normal: boolean }
  | { readonly type: "STOP" }
  | { readonly type: "STOPPED" }
  | { readonly type: "RESTART"; readonly delayMs: number }
  | { readonly type: "BACKOFF_DONE" }
  | { readonly type: "GIVE_UP" }

const machine = setup({
  types: {
    context: {} as Context,
    events: {} as Event
  },
  actions: {
    recordStarted: assign((_, params: { readonly pid: number | null }) => ({ pid: params.pid })),
    recordEnd: assign((_, params: { readonly reason: string; readonly normal: boolean }) => ({
      lastReason: params.reason,
      normal: params.normal,
      pid: null
    })),
    // OTP's shutdown: a child stopped on request ended normally, with reason `shutdown`.
    recordStopped: assign({ lastReason: "shutdown", normal: true, pid: null }),
    countRestart: assign(({ context }, params: { readonly delayMs: number }) => ({
      restarts: context.restarts + 1,
      backoffMs: Math.max(0, params.delayMs)
    }))
  },
  guards: {
    hasDelay: (_, params: { readonly delayMs: number }) => params.delayMs > 0,
    endedNormally: ({ context }) => context.normal
  }
})

// The one RESTART transition, taken from `restarting` (the strategy's decision), `exited` and
// `failed` (restart_child, or a sibling's restart under one_for_all / rest_for_one): counted,
// then through a backoff when it has a delay, else straight to starting.
const delay = ({ event }: { readonly event: { readonly delayMs: number } }) => ({ delayMs: event.delayMs })
const restart = [
  { guard: { type: "hasDelay", params: delay }, target: "backoff", actions: { type: "countRestart", params: delay } },
  { target: "starting", actions: { type: "countRestart", params: delay } }
] as const

/** A child's lifecycle. @category lifecycle */
export const ChildLifecycle = machine.createMachine({
  id: "child",
  initial: "starting",
  context: { restarts: 0, lastReason: null, normal: true, pid: null, backoffMs: 0 },
  states: {
    starting: {
      on: {
        STARTED: { target: "running", actions: { type: "recordStarted", params: ({ event }) => ({ pid: event.pid }) } },
        START_FAILED: {
          target: "restarting",
          actions: { type: "recordEnd", params: ({ event }) => ({ reason: event.reason, normal: false }) }
        },
        EXITED: {
          target: "restarting",
          actions: { type: "recordEnd", params: ({ event }) => ({ reason: event.reason, normal: event.normal }) }
        },
        STOP: { target: "stopping" }
      }
    },
    running: {
      on: {
        EXITED: {
          target: "restarting",
          actions: { type: "recordEnd", params: ({ event }) => ({ reason: event.reason, normal: event.normal }) }
        },
        STOP: { target: "stopping" }
      }
    },
    stopping: {
      on: {
        // A start that completes after the stop was asked: the fiber kills what came up.
        STARTED: { actions: { type: "recordStarted", params: ({ event }) => ({ pid: event.pid }) } },
        STOPPED: { target: "exited", actions: "recordStopped" },
        // It ended on its own before the stop took effect (OTP reports a shutdown_error; the
        // child is terminated all the same).
        EXITED: {
          target: "exited",
          actions: { type: "recordEnd", params: ({ event }) => ({ reason: event.reason, normal: event.normal }) }
        },
        START_FAILED: {
          target: "exited",
          actions: { type: "recordEnd", params: ({ event }) => ({ reason: event.reason, normal: false }) }
        }
      }
    },
    backoff: {
      on: {
        BACKOFF_DONE: { target: "starting" },
        // Nothing runs during a backoff: stopping is cancelling the timer.
        STOP: { target: "exited", actions: "recordStopped" }
      }
    },
    restarting: {
      on: {
        RESTART: restart,
        GIVE_UP: [{ guard: "endedNormally", target: "exited" }, { target: "failed" }],
        // terminate_child before the decision: no restart comes (OTP's shutdown).
        STOP: { target: "exited", actions: "recordStopped" }
      }
    },
    exited: {
      on: {
        // restart_child, or a sibling's restart under one_for_all / rest_for_one.
        RESTART: restart
      }
    },
    failed: {
      on: {
        RESTART: restart
      }
    }
  }
})
