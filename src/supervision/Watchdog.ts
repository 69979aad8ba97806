/**
 * A per-child watchdog, like systemd's `WatchdogSec=`: a child that declares `watchdogMs` must
 * send HEARTBEAT at least that often, or its supervisor treats it as hung (kills it, and the
 * end is abnormal). Pure arithmetic; the supervisor's fiber owns the timer and the clock.
 */

// The moment the silence is counted from: the last heartbeat of this run, or the start.
// A heartbeat older than the start belongs to an earlier run and does not count.
const since = (lastHeartbeatMs: number | null, startedAtMs: number): number =>
  lastHeartbeatMs === null ? startedAtMs : Math.max(lastHeartbeatMs, startedAtMs)

// A watchdog of 0, a negative or a non-finite period is off (systemd: WatchdogSec=0).
const isOff = (watchdogMs: number): boolean => !(watchdogMs > 0) || !Number.isFinite(watchdogMs)

/**
 * Whether the child has been silent for `watchdogMs` or more at `now`: since its last
 * heartbeat, or since it started when it has sent none yet.
 *
 * @category guards
 */
export const expired = (lastHeartbeatMs: number | null, startedAtMs: number, now: number, watchdogMs: number): boolean =>
  !isOff(watchdogMs) && now - since(lastHeartbeatMs, startedAtMs) >= watchdogMs

/**
 * Milliseconds from `now` until the child could expire if no heartbeat comes: 0 when it already
 * has, `Infinity` when the watchdog is off. The fiber sleeps this long, then checks again.
 *
 * @category constructors
 */
export const nextCheckIn = (lastHeartbeatMs: number | null, startedAtMs: number, now: number, watchdogMs: number): number =>
  isOff(watchdogMs) ? Infinity : Math.max(0, since(lastHeartbeatMs, startedAtMs) + watchdogMs - now)
