/**
 * The observer's one page: the HTML and the style as strings, and the script, which lives in
 * ./page/observer.ts as TypeScript the type check covers (with the DOM's types, by its own
 * tsconfig) and is served with its types stripped by Node's own stripper: no build step, no
 * CDN, no request to any other origin (the server's Content-Security-Policy forbids them). The
 * script opens `/events` (server-sent events: a snapshot on connect, then lifecycle events as
 * they happen and a snapshot every second) and draws the supervision tree, the agents with
 * CPU and memory sparklines (inline SVG), the LLM shares, the events with escalations marked,
 * and the live log of the agent clicked. Restart and stop ask for confirmation and send the
 * token from the URL fragment (`#token=...`), which the browser never sends to a server.
 *
 * Elements carry stable ids and data attributes for tests and scripts: each tree node is
 * `[data-path]` with `data-state`, `data-restarts`, `data-pid`, `data-kind`; actions are
 * `button[data-action][data-path]`; `body[data-connected]` says whether the stream is up.
 */
import * as Fs from "node:fs"
import * as Module from "node:module"

/** The page. @category constructors */
export const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>AgentOS observer</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/observer.css">
<script src="/observer.js" defer></script>
</head>
<body data-connected="false">
<header>
  <h1>AgentOS observer</h1>
  <span id="connection" class="pill">connecting…</span>
  <span id="token-state" class="pill"></span>
  <span id="clock" class="muted"></span>
</header>
<div id="action-status" role="status" aria-live="polite"></div>
<section id="escalations" hidden>
  <h2>Escalations</h2>
  <ol id="escalation-list"></ol>
</section>
<main>
  <section id="tree-panel">
    <h2>Supervision tree</h2>
    <div id="tree"><p class="muted">waiting for the kernel…</p></div>
  </section>
  <section id="agents-panel">
    <h2>Agents</h2>
    <table id="agents">
      <thead><tr><th>Agent</th><th>State</th><th>PID</th><th>Restarts</th><th>CPU</th><th>Memory</th><th>Mailbox</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section id="llm-panel">
    <h2>LLM shares</h2>
    <p id="llm-summary" class="muted"></p>
    <div id="llm"></div>
  </section>
  <section id="events-panel">
    <h2>Events</h2>
    <ol id="events"></ol>
  </section>
  <section id="log-panel">
    <h2>Log <span id="log-name" class="muted">(click an agent)</span></h2>
    <pre id="log"></pre>
  </section>
</main>
</body>
</html>
`

/** The page's style: neutral colours that follow the system's light or dark theme. @category constructors */
export const css = `
:root {
  color-scheme: light dark;
  --bg: #f7f7f8; --panel: #ffffff; --fg: #1d1d1f; --muted: #6b6b73; --line: #dcdce1;
  --green: #1f8a3b; --amber: #b7791f; --grey: #7a7a85; --red: #c62828; --accent: #3559c7;
  --escalation-bg: #fdecec;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #151518; --panel: #1e1e22; --fg: #e8e8ec; --muted: #9a9aa5; --line: #34343b;
    --green: #4cc36e; --amber: #e0a43a; --grey: #8d8d98; --red: #f06464; --accent: #8aa4ff;
    --escalation-bg: #3a1f22;
  }
}
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--fg); }
header { display: flex; gap: 12px; align-items: center; padding: 10px 16px; border-bottom: 1px solid var(--line); background: var(--panel); }
h1 { font-size: 17px; margin: 0 8px 0 0; }
h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: 0 0 8px; }
main { display: grid; grid-template-columns: minmax(320px, 1fr) minmax(420px, 1.4fr); gap: 12px; padding: 12px 16px; }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px; min-width: 0; }
#tree-panel { grid-row: span 2; }
#log-panel { grid-column: 1 / -1; }
.muted { color: var(--muted); }
.pill { font-size: 12px; padding: 1px 8px; border-radius: 999px; border: 1px solid var(--line); }
body[data-connected="true"] #connection { color: var(--green); border-color: var(--green); }
body[data-connected="false"] #connection { color: var(--amber); border-color: var(--amber); }
#action-status { padding: 0 16px; min-height: 0; }
#action-status:not(:empty) { padding: 8px 16px; border-bottom: 1px solid var(--line); }
#action-status.error { color: var(--red); }
#escalations { margin: 12px 16px 0; background: var(--escalation-bg); border-color: var(--red); }
#escalations h2 { color: var(--red); }
ul.tree, ul.tree ul { list-style: none; margin: 0; padding-left: 18px; }
ul.tree { padding-left: 0; }
ul.tree li { margin: 3px 0; }
.node-row { display: flex; align-items: center; gap: 8px; flex-wrap: wrap; }
.node-name { font-weight: 600; }
.node-name.agent { cursor: pointer; color: var(--accent); text-decoration: underline dotted; }
.kind { font-size: 11px; color: var(--muted); }
.badge { font-size: 11px; font-weight: 600; padding: 1px 7px; border-radius: 4px; color: #fff; background: var(--grey); }
.badge.running { background: var(--green); }
.badge.starting, .badge.restarting, .badge.backoff, .badge.stopping { background: var(--amber); }
.badge.exited, .badge.stopped { background: var(--grey); }
.badge.failed, .badge.escalated { background: var(--red); }
.meta { font-size: 12px; color: var(--muted); font-variant-numeric: tabular-nums; }
.reason { font-size: 12px; color: var(--muted); }
button { font: inherit; font-size: 11px; padding: 1px 7px; border-radius: 4px; border: 1px solid var(--line); background: transparent; color: var(--fg); cursor: pointer; }
button:hover { border-color: var(--accent); color: var(--accent); }
button[data-action="stop"]:hover { border-color: var(--red); color: var(--red); }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--line); vertical-align: middle; white-space: nowrap; }
th { font-size: 12px; color: var(--muted); font-weight: 500; }
td.agent-name { cursor: pointer; color: var(--accent); }
tr.selected td { background: color-mix(in srgb, var(--accent) 12%, transparent); }
svg.spark { vertical-align: middle; margin-left: 6px; background: color-mix(in srgb, var(--fg) 6%, transparent); border-radius: 2px; }
svg.spark polyline { fill: none; stroke: var(--accent); stroke-width: 1.5; }
svg.spark line { stroke: var(--red); stroke-width: 1; stroke-dasharray: 2 2; }
.bar { margin: 6px 0; }
.bar-label { display: flex; justify-content: space-between; font-size: 12px; }
.bar-track { height: 10px; background: color-mix(in srgb, var(--fg) 8%, transparent); border-radius: 5px; overflow: hidden; }
.bar-fill { height: 100%; background: var(--accent); }
ol#events, ol#escalation-list { list-style: none; margin: 0; padding: 0; max-height: 320px; overflow: auto; font-size: 12px; font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; }
ol#events li { padding: 2px 4px; border-bottom: 1px solid var(--line); }
ol#events li.escalation, ol#escalation-list li { background: var(--escalation-bg); color: var(--red); font-weight: 600; }
ol#events li.exited, ol#events li.start_failed { color: var(--amber); }
#log { margin: 0; max-height: 360px; overflow: auto; font: 12px/1.4 ui-monospace, "SFMono-Regular", Menlo, monospace; white-space: pre-wrap; word-break: break-word; }
#log .stderr { color: var(--red); }
#log .log { color: var(--accent); }
#log .marker { color: var(--muted); font-style: italic; }
@media (max-width: 900px) { main { grid-template-columns: 1fr; } #tree-panel { grid-row: auto; } }
`

/** The script's source: TypeScript, run by the browser once its types are stripped. @category constructors */
export const scriptFile: URL = new URL("./page/observer.ts", import.meta.url)

/**
 * Types stripped, nothing else changed: the code keeps its place (types become blanks), so a
 * browser's line and column are the file's. Node says the stripper is experimental, on stderr,
 * at its first use; the script is checked as it is served (test/observer/ObserverPage.test.ts,
 * the browser tests) on the Node this package pins, so the warning would only be noise at boot.
 */
const strip = (source: string): string => {
  const emitWarning = process.emitWarning
  process.emitWarning = () => {}
  try {
    return Module.stripTypeScriptTypes(source, { mode: "strip" })
  } finally {
    process.emitWarning = emitWarning
  }
}

let stripped: string | undefined

/**
 * The page's behaviour, as served at `/observer.js`: ./page/observer.ts with its types
 * stripped. Made once, at the first call (the observer's start), not when this module loads: the
 * stripper takes tens of milliseconds the first time, which no other command should pay.
 *
 * **Gotchas**: throws when the file cannot be read, or holds TypeScript that does not strip
 * (an enum; the type check's `erasableSyntaxOnly` refuses those first).
 * @category constructors
 */
export const script = (): string => {
  stripped ??= strip(Fs.readFileSync(scriptFile, "utf8"))
  return stripped
}
