/**
 * The observer's one page, as three strings the server sends as they are: no build step, no
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

/** The page's behaviour (no template literals inside: this file holds it in one). @category constructors */
export const script = `"use strict";
(function () {
  var token = null;
  var match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (match) token = decodeURIComponent(match[1]);
  var tree = null;
  var treeKey = "";
  var selected = null;
  var logSource = null;
  var LOG_LINES = 500;

  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) for (var key in attrs) {
      if (attrs[key] === null || attrs[key] === undefined) continue;
      if (key === "text") node.textContent = String(attrs[key]);
      else if (key === "class") node.className = attrs[key];
      else node.setAttribute(key, String(attrs[key]));
    }
    if (children) children.forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function time(ms) { return new Date(ms).toISOString().slice(11, 23); }
  function bytes(n) {
    if (n === null || n === undefined) return "–";
    if (n < 1024) return n + " B";
    if (n < 1048576) return (n / 1024).toFixed(1) + " KiB";
    if (n < 1073741824) return (n / 1048576).toFixed(1) + " MiB";
    return (n / 1073741824).toFixed(2) + " GiB";
  }
  function percent(n) { return n === null || n === undefined ? "–" : n.toFixed(n < 10 ? 1 : 0) + "%"; }

  function renderTokenState() {
    $("token-state").textContent = token ? "actions enabled" : "read-only (open the #token= link printed at boot for actions)";
  }

  // -- the tree -------------------------------------------------------------------------------

  // The kernel's own services under init are not the user's to stop (the server refuses too).
  function actionable(node, isRoot) {
    return !isRoot && !(node.kind === "service" && node.path.split("/").length === 2);
  }
  function nodeElement(node, isRoot) {
    var state = node.state;
    var actions = actionable(node, isRoot);
    var row = el("div", { class: "node-row" }, [
      el("span", { class: "badge " + state, text: state }),
      el("span", { class: "node-name" + (node.kind === "agent" ? " agent" : ""), text: node.name, "data-agent": node.kind === "agent" ? node.name : null }),
      el("span", { class: "kind", text: node.kind + (node.strategy ? " · " + node.strategy : "") }),
      el("span", { class: "meta", text: (node.pid === null ? "" : "pid " + node.pid + " · ") + "restarts " + node.restarts }),
      node.reason && state !== "running" ? el("span", { class: "reason", text: node.reason }) : null,
      actions ? el("button", { type: "button", "data-action": "restart", "data-path": node.path, title: "terminate, then restart this child", text: "restart" }) : null,
      actions ? el("button", { type: "button", "data-action": "stop", "data-path": node.path, title: "terminate this child", text: "stop" }) : null
    ]);
    var li = el("li", {
      id: "node-" + node.path.replace(/[^A-Za-z0-9_-]/g, "_"),
      "data-path": node.path, "data-state": state, "data-restarts": node.restarts,
      "data-pid": node.pid === null ? "" : node.pid, "data-kind": node.kind
    }, [row]);
    if (node.children && node.children.length > 0) {
      li.appendChild(el("ul", null, node.children.map(function (c) { return nodeElement(c, false); })));
    }
    return li;
  }

  function renderTree() {
    var key = JSON.stringify(tree);
    if (key === treeKey) return;
    treeKey = key;
    var container = $("tree");
    clear(container);
    if (!tree) { container.appendChild(el("p", { class: "muted", text: "init is not running" })); return; }
    container.appendChild(el("ul", { class: "tree" }, [nodeElement(tree, true)]));
  }

  function findNode(node, path) {
    if (!node) return null;
    if (node.path === path) return node;
    var children = node.children || [];
    for (var i = 0; i < children.length; i++) {
      var found = findNode(children[i], path);
      if (found) return found;
    }
    return null;
  }

  // A lifecycle event changes the tree at once; the next snapshot confirms it.
  var stateAfter = {
    "agentos.child.started": "running",
    "agentos.child.exited": "restarting",
    "agentos.child.stopped": "exited",
    "agentos.child.start_failed": "restarting"
  };
  function applyEvent(event) {
    if (!tree || !event.type || event.type.indexOf("agentos.") !== 0) return;
    if (event.type === "agentos.supervisor.escalated") {
      var sup = findNode(tree, event.supervisor);
      if (sup) sup.state = "escalated";
    } else if (event.offender) {
      var node = findNode(tree, event.offender);
      if (!node) return;
      if (event.type === "agentos.child.restarting") node.state = event.delayMs > 0 ? "backoff" : "starting";
      else if (stateAfter[event.type]) node.state = stateAfter[event.type];
      node.restarts = event.restarts;
      node.pid = event.type === "agentos.child.started" ? event.pid : null;
      if (event.reason) node.reason = event.reason;
    }
    renderTree();
  }

  // -- agents, sparklines ----------------------------------------------------------------------

  var SVG = "http://www.w3.org/2000/svg";
  function sparkline(values, max, limit) {
    var w = 90, h = 22;
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "spark");
    svg.setAttribute("width", w); svg.setAttribute("height", h);
    svg.setAttribute("viewBox", "0 0 " + w + " " + h);
    var top = max > 0 ? max : 1;
    var step = w / 59;
    var offset = 60 - values.length;
    var points = [];
    function flush() {
      if (points.length > 0) {
        var line = document.createElementNS(SVG, "polyline");
        line.setAttribute("points", points.length === 1 ? points[0] + " " + points[0] : points.join(" "));
        svg.appendChild(line);
      }
      points = [];
    }
    values.forEach(function (v, i) {
      if (v === null || v === undefined) { flush(); return; }
      var x = ((offset + i) * step).toFixed(1);
      var y = (h - 1 - Math.min(1, v / top) * (h - 2)).toFixed(1);
      points.push(x + "," + y);
    });
    flush();
    if (limit) {
      var y = (h - 1 - Math.min(1, limit / top) * (h - 2)).toFixed(1);
      var l = document.createElementNS(SVG, "line");
      l.setAttribute("x1", 0); l.setAttribute("x2", w); l.setAttribute("y1", y); l.setAttribute("y2", y);
      svg.appendChild(l);
    }
    return svg;
  }
  function maxOf(values) {
    var m = 0;
    values.forEach(function (v) { if (v !== null && v > m) m = v; });
    return m;
  }

  function renderAgents(agents) {
    var body = document.querySelector("#agents tbody");
    clear(body);
    if (agents.length === 0) {
      body.appendChild(el("tr", null, [el("td", { colspan: 7, class: "muted", text: "no agents" })]));
      return;
    }
    agents.forEach(function (a) {
      var cpu = a.history.cpuPercent;
      var mem = a.history.memoryBytes;
      var memMax = Math.max(maxOf(mem), a.memoryLimitBytes || 0);
      var cpuCell = el("td", { class: "cpu", "data-cpu": a.cpuPercent === null ? "" : a.cpuPercent.toFixed(2) }, [document.createTextNode(percent(a.cpuPercent))]);
      cpuCell.appendChild(sparkline(cpu, Math.max(100, maxOf(cpu)), null));
      var memCell = el("td", { class: "memory", "data-memory": a.memoryBytes === null ? "" : a.memoryBytes }, [
        document.createTextNode(bytes(a.memoryBytes) + (a.memoryLimitBytes ? " / " + bytes(a.memoryLimitBytes) : ""))
      ]);
      memCell.appendChild(sparkline(mem, memMax, a.memoryLimitBytes));
      var tr = el("tr", { "data-agent": a.name, "data-status": a.status, class: a.name === selected ? "selected" : null }, [
        el("td", { class: "agent-name", "data-agent": a.name, text: a.name, title: a.path || "" }),
        el("td", null, [el("span", { class: "badge " + a.status, text: a.status })]),
        el("td", { text: a.pid === null ? "–" : a.pid }),
        el("td", { text: a.restarts }),
        cpuCell,
        memCell,
        el("td", { text: a.mailbox ? a.mailbox.depth + (a.mailbox.inFlight ? " (+" + a.mailbox.inFlight + ")" : "") : "–" })
      ]);
      body.appendChild(tr);
    });
  }

  // -- LLM -------------------------------------------------------------------------------------

  function renderLlm(llm) {
    $("llm-summary").textContent = llm.policy + " · " + llm.inFlight + "/" + llm.maxInFlight + " in flight · " + llm.queued + " queued · " + llm.tokens + " tokens served";
    var box = $("llm");
    clear(box);
    if (llm.agents.length === 0) { box.appendChild(el("p", { class: "muted", text: "no LLM requests yet" })); return; }
    llm.agents.forEach(function (a) {
      var fill = el("div", { class: "bar-fill" });
      fill.style.width = (a.share * 100).toFixed(1) + "%";
      box.appendChild(el("div", { class: "bar", "data-llm-agent": a.agent, "data-share": a.share.toFixed(4) }, [
        el("div", { class: "bar-label" }, [
          el("span", { text: a.agent + " (weight " + a.weight + ")" }),
          el("span", { class: "meta", text: a.tokens + " tokens · " + (a.share * 100).toFixed(1) + "% · " + a.completed + "/" + a.requests + " answered · " + a.queued + " queued · " + a.inFlight + " running" })
        ]),
        el("div", { class: "bar-track" }, [fill])
      ]));
    });
  }

  // -- events ------------------------------------------------------------------------------------

  function describe(e) {
    switch (e.type) {
      case "agentos.child.started": return [e.offender, "started" + (e.pid === null ? "" : " (pid " + e.pid + ")")];
      case "agentos.child.exited": return [e.offender, "exited: " + e.reason];
      case "agentos.child.restarting": return [e.offender, "restarting (restart " + e.restarts + (e.delayMs ? ", after " + e.delayMs + " ms backoff" : "") + ")"];
      case "agentos.child.stopped": return [e.offender, "stopped"];
      case "agentos.child.start_failed": return [e.offender, "failed to start: " + e.reason];
      case "agentos.supervisor.escalated": return [e.supervisor, "ESCALATED: " + e.reason];
      case "agentos.agent.failed": return [e.name, "agent failed at " + e.step + ": " + e.message];
      default: return null;
    }
  }
  function eventItem(e) {
    var d = describe(e);
    if (!d) return null;
    var kind = e.type.split(".").pop();
    return el("li", { class: kind === "escalated" ? "escalation" : kind, "data-type": e.type }, [
      document.createTextNode(time(e.time) + "  " + d[0] + "  " + d[1])
    ]);
  }
  // A supervisor's reason starts with its own path already.
  function escalationText(e) {
    var reason = e.reason || "";
    return time(e.time) + "  " + (reason.indexOf(e.supervisor + ":") === 0 ? reason : e.supervisor + ": " + reason);
  }
  function addEvent(e) {
    var item = eventItem(e);
    if (!item) return;
    var list = $("events");
    list.insertBefore(item, list.firstChild);
    while (list.childNodes.length > 100) list.removeChild(list.lastChild);
    if (e.type === "agentos.supervisor.escalated") {
      $("escalations").hidden = false;
      $("escalation-list").appendChild(el("li", null, [document.createTextNode(escalationText(e))]));
    }
  }
  function renderEvents(events, escalations) {
    var list = $("events");
    clear(list);
    for (var i = events.length - 1; i >= 0; i--) { var item = eventItem(events[i]); if (item) list.appendChild(item); }
    var esc = $("escalation-list");
    clear(esc);
    escalations.forEach(function (e) { esc.appendChild(el("li", null, [document.createTextNode(escalationText(e))])); });
    $("escalations").hidden = escalations.length === 0;
  }

  // -- the log of the selected agent -------------------------------------------------------------

  var lastIncarnation = null;
  function logLine(pre, l) {
    // A restart shows in the log as a marker: the lines of every incarnation are kept.
    if (lastIncarnation !== null && l.incarnation !== lastIncarnation) {
      pre.appendChild(el("span", { class: "marker", text: "— incarnation " + l.incarnation + " (" + l.id + ") —\\n" }));
    }
    lastIncarnation = l.incarnation;
    pre.appendChild(el("span", { class: l.stream, "data-seq": l.seq }, [document.createTextNode((l.stream === "stdout" ? "" : "(" + l.stream + ") ") + l.line + "\\n")]));
  }
  function select(name) {
    if (!name || name === selected) return;
    selected = name;
    $("log-name").textContent = name;
    document.querySelectorAll("#agents tr").forEach(function (tr) { tr.classList.toggle("selected", tr.getAttribute("data-agent") === name); });
    var pre = $("log");
    clear(pre);
    if (logSource) logSource.close();
    logSource = new EventSource("/events/logs?name=" + encodeURIComponent(name));
    logSource.addEventListener("tail", function (m) {
      var data = JSON.parse(m.data);
      clear(pre);
      lastIncarnation = null;
      if (data.dropped > 0) pre.appendChild(el("span", { class: "marker", text: "(" + data.dropped + " lines dropped by the rate limit so far)\\n" }));
      data.lines.forEach(function (l) { logLine(pre, l); });
      pre.scrollTop = pre.scrollHeight;
    });
    logSource.addEventListener("line", function (m) {
      var l = JSON.parse(m.data);
      var atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      logLine(pre, l);
      while (pre.childNodes.length > LOG_LINES) pre.removeChild(pre.firstChild);
      if (atBottom) pre.scrollTop = pre.scrollHeight;
    });
    logSource.onerror = function () { pre.appendChild(el("span", { class: "marker", text: "(log stream interrupted; reconnecting)\\n" })); };
  }

  // -- actions -----------------------------------------------------------------------------------

  function status(text, isError) {
    var box = $("action-status");
    box.textContent = text;
    box.className = isError ? "error" : "";
  }
  function act(action, path) {
    if (!token) {
      var given = window.prompt("The token printed at boot is needed to " + action + " " + path + ":");
      if (!given) return;
      token = given.trim();
      renderTokenState();
    }
    if (!window.confirm((action === "restart" ? "Restart " : "Stop ") + path + "?")) return;
    status(action + " " + path + "…", false);
    fetch("/api/" + action, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer " + token },
      body: JSON.stringify({ path: path })
    }).then(function (response) {
      return response.json().then(function (body) {
        if (response.ok) status((action === "restart" ? "restarted " : "stopped ") + path, false);
        else status(action + " " + path + ": " + response.status + " " + (body.error || ""), true);
      });
    }).catch(function (e) { status(action + " " + path + ": " + e, true); });
  }

  document.addEventListener("click", function (e) {
    var target = e.target;
    if (!(target instanceof Element)) return;
    var button = target.closest("button[data-action]");
    if (button) { act(button.getAttribute("data-action"), button.getAttribute("data-path")); return; }
    var agent = target.closest("[data-agent]");
    if (agent) select(agent.getAttribute("data-agent"));
  });

  // -- the stream ----------------------------------------------------------------------------------

  function connect() {
    var source = new EventSource("/events");
    source.onopen = function () {
      document.body.setAttribute("data-connected", "true");
      $("connection").textContent = "live";
    };
    source.onerror = function () {
      document.body.setAttribute("data-connected", "false");
      $("connection").textContent = "reconnecting…";
    };
    source.addEventListener("snapshot", function (m) {
      var s = JSON.parse(m.data);
      tree = s.tree;
      renderTree();
      renderAgents(s.agents);
      renderLlm(s.llm);
      renderEvents(s.events, s.escalations);
      $("clock").textContent = "kernel time " + time(s.time);
    });
    source.addEventListener("lifecycle", function (m) {
      var e = JSON.parse(m.data);
      applyEvent(e);
      addEvent(e);
    });
  }

  renderTokenState();
  connect();
})();
`
