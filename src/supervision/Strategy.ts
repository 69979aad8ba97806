/**
 * The pure half of a supervisor's answer to a child's death, after supervisor.erl's
 * do_restart/3 and restart/3: given the strategy, the children in start order and how the
 * failed one ended, say which running siblings to stop, which children to start again and
 * which to delete. Acting on it (and counting it once against the restart intensity) is the
 * supervisor actor's job.
 */

// The strategies and restart types are TREE's words too: listed once, on the protocol floor.
import type { RestartType, Strategy } from "../protocol/Rows.ts"
export { type RestartType, restartTypes, type Strategy, strategies } from "../protocol/Rows.ts"

/** What `decide` needs to know of a child. @category models */
export interface ChildView {
  readonly name: string
  readonly restart: RestartType
  /** Whether it has a live process (OTP: its pid is a pid, not `undefined`). */
  readonly running: boolean
}

/**
 * The decision. `Ignore`: nothing is restarted (and nothing counts against intensity);
 * `Restart`: stop `stop` (reverse start order), then start `start` (start order). Both delete
 * the children in `remove` from the supervisor's child list.
 *
 * @category models
 */
export type Decision =
  | { readonly _tag: "Ignore"; readonly remove: ReadonlyArray<string> }
  | {
    readonly _tag: "Restart"
    /** Running siblings to terminate, in reverse start order. */
    readonly stop: ReadonlyArray<string>
    /** Children to start, in start order; the failed one among them. */
    readonly start: ReadonlyArray<string>
    /** Children deleted from the supervisor: temporary siblings caught in the restart. */
    readonly remove: ReadonlyArray<string>
  }

/** The input of `decide`. @category models */
export interface Input {
  readonly strategy: Strategy
  /** The supervisor's children in start order, the failed one included. */
  readonly children: ReadonlyArray<ChildView>
  /** The name of the child that ended. */
  readonly failed: string
  /** A normal end: exit code 0, or stopped on request (OTP's `normal`, `shutdown`, `{shutdown, _}`). */
  readonly normal: boolean
}

/**
 * Whether a child of this restart type is restarted after this end (OTP's do_restart/3):
 * permanent always, transient only after an abnormal end, temporary never.
 *
 * @category guards
 */
export const isRestarted = (restart: RestartType, normal: boolean): boolean =>
  restart === "permanent" || (restart === "transient" && !normal)

/**
 * Decides what a child's end means for its supervisor, as supervisor.erl does:
 *
 * - a child not restarted is ignored; a temporary one is deleted from the child list, and so is
 *   any dynamic child of a `simple_one_for_one` supervisor (OTP's del_child/2), while a static
 *   transient child keeps its spec with no process;
 * - `one_for_one` and `simple_one_for_one` restart the failed child alone;
 * - `one_for_all` stops every other running child (reverse start order) and starts every child
 *   again in start order; `rest_for_one` does the same for the failed child and the children
 *   started after it. Temporary children caught in it are stopped and deleted, never restarted
 *   (OTP's terminate_children/2 drops them: their start arguments are not kept).
 *
 * **Gotchas**
 *
 * As in OTP, `one_for_all` and `rest_for_one` start every non-temporary child of the affected
 * range, including one that had no process (a transient child that had ended normally, or one
 * stopped with terminate_child): start_children/2 walks the whole list. A name not among
 * `children` (a child already deleted) is ignored, as restart_child/3 ignores an unknown pid.
 *
 * @category constructors
 */
export const decide = (input: Input): Decision => {
  const index = input.children.findIndex((child) => child.name === input.failed)
  const failed = input.children[index]
  if (failed === undefined) return { _tag: "Ignore", remove: [] }
  if (!isRestarted(failed.restart, input.normal)) {
    const deleted = failed.restart === "temporary" || input.strategy === "simple_one_for_one"
    return { _tag: "Ignore", remove: deleted ? [failed.name] : [] }
  }
  switch (input.strategy) {
    case "one_for_one":
    case "simple_one_for_one":
      return { _tag: "Restart", stop: [], start: [failed.name], remove: [] }
    case "one_for_all":
      return restartRange(input.children, failed.name)
    case "rest_for_one":
      return restartRange(input.children.slice(index), failed.name)
  }
}

// OTP's restart_multiple_children/3: terminate the range (temporary ones for good), then start
// what is left of it in order.
const restartRange = (range: ReadonlyArray<ChildView>, failed: string): Decision => ({
  _tag: "Restart",
  stop: range.filter((child) => child.name !== failed && child.running).map((child) => child.name).reverse(),
  start: range.filter((child) => child.restart !== "temporary").map((child) => child.name),
  remove: range.filter((child) => child.name !== failed && child.restart === "temporary").map((child) => child.name)
})
