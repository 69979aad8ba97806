/**
 * Where the process table puts each line an agent writes (stdout and stderr from its launcher,
 * LOG records from its connection): a contract at the process table's own level, which the logs
 * layer implements (logs/AgentLogs.ts provides it beside AgentLogs), so the table never imports
 * the floor above it.
 */
import { Context } from "effect"
import type { LogLine } from "../protocol/LogEntry.ts"

/** Takes agents' lines. @category services */
export class AgentOutput extends Context.Service<AgentOutput, {
  /**
   * Takes one line (synchronous: called from the launcher's output callbacks). Returns 0 when it
   * was kept; when a rate limit dropped it, the time (ms since the epoch) at which this name's
   * lines are taken again, so the table may stop reading the agent until then.
   */
  readonly append: (line: LogLine) => number
}>()("agentos/process/AgentOutput") {}
