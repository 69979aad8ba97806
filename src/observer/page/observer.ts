/**
 * The observer page's behaviour, run by the browser: what `/observer.js` serves, this file with
 * its types stripped (ObserverPage.script), as a classic script. It opens `/events` (a snapshot
 * on connect, lifecycle events as they happen, a snapshot every second) and draws the
 * supervision tree, the agents with CPU and memory sparklines, the LLM shares, the events with
 * escalations marked, and the live log of the agent clicked. Restart and stop ask for
 * confirmation and send the token from the URL fragment (`#token=...`).
 *
 * **Gotchas**: type-checked by ./tsconfig.json (DOM types, which the kernel's code must not
 * see), run by `npm run typecheck`. It imports types only: nothing may survive the stripping
 * but plain script (no import or export, no enum), and everything that runs stays inside the
 * one function below (a classic script's top-level names would be the page's globals).
 */
"use strict";
import type { AgentOutput, SupervisorReport } from "../../process/Events.ts";
import type { AgentView, LlmView, Snapshot } from "../ObserverState.ts";

/** TREE's node as the page keeps it: lifecycle events change it in place until the next snapshot. */
type PageNode = { -readonly [K in keyof TreeNode]: K extends "children" ? Array<PageNode> : TreeNode[K] };
type TreeNode = NonNullable<Snapshot["tree"]>;
type LifecycleEvent = Snapshot["events"][number];
/** A snapshot as the page receives it (JSON), its tree the page's own. */
type Received = Omit<Snapshot, "tree"> & { readonly tree: PageNode | null };
/** A log line as `/events/logs` sends it. */
type LogLine = Pick<AgentOutput, "seq" | "time" | "name" | "id" | "incarnation" | "stream" | "line">;
/** The first message of `/events/logs`: the tail across incarnations. */
interface Tail {
  readonly name: string;
  readonly lines: ReadonlyArray<LogLine>;
  readonly dropped: number;
}
type Attributes = Record<string, string | number | null | undefined>;

(function () {
  var token: string | null = null;
  var match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (match) token = decodeURIComponent(match[1]!);
  var tree: PageNode | null = null;
  var treeKey = "";
  var selected: string | null = null;
  var logSource: EventSource | null = null;
  var LOG_LINES = 500;

  // Every id the script asks for is in the page (test/observer/ObserverPage.test.ts checks).
  function $(id: string): HTMLElement { return document.getElementById(id) as HTMLElement; }
  function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attributes | null, children?: ReadonlyArray<Node | null> | null): HTMLElementTagNameMap[K] {
    var node = document.createElement(tag);
    if (attrs) for (var key in attrs) {
      if (attrs[key] === null || attrs[key] === undefined) continue;
      if (key === "text") node.textContent = String(attrs[key]);
      else if (key === "class") node.className = String(attrs[key]);
      else node.setAttribute(key, String(attrs[key]));
    }
    if (children) children.forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }
  function clear(node: Node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function time(ms: number) { return new Date(ms).toISOString().slice(11, 23); }
  function bytes(n: number | null | undefined) {
    if (n === null || n === undefined) return "–";
    if (n < 1024) return n + " B";
    if (n < 1048576) return (n / 1024).toFixed(1) + " KiB";
    if (n < 1073741824) return (n / 1048576).toFixed(1) + " MiB";
    return (n / 1073741824).toFixed(2) + " GiB";
  }
  function percent(n: number | null | undefined) { return n === null || n === undefined ? "–" : n.toFixed(n < 10 ? 1 : 0) + "%"; }

  function renderTokenState() {
    $("token-state").textContent = token ? "actions enabled" : "read-only (open the #token= link printed at boot for actions)";
  }

  // -- the tree -------------------------------------------------------------------------------

  // The kernel's own services under init are not the user's to stop (the server refuses too).
  function actionable(node: PageNode, isRoot: boolean) {
    return !isRoot && !(node.kind === "service" && node.path.split("/").length === 2);
  }
  function nodeElement(node: PageNode, isRoot: boolean): HTMLLIElement {
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

  function findNode(node: PageNode | null | undefined, path: string): PageNode | null {
    if (!node) return null;
    if (node.path === path) return node;
    var children = node.children || [];
    for (var i = 0; i < children.length; i++) {
      var found = findNode(children[i], path);
      if (found) return found;
    }
    return null;
  }

  // A lifecycle event changes the tree at once; the next snapshot confirms it. An exit is the
  // child's end, not a restart: its supervisor decides at once whether it comes back and says so
  // with agentos.child.restarting, or says nothing (OTP's supervisor reports no decision not to
  // restart). So the page shows it exited and asks TREE for the node that decision left: exited
  // after a normal end, failed (an escalation's offender), or gone (a temporary child). Without
  // the question a transient child that ended normally showed "restarting" until the next
  // snapshot, and for good when the kernel stopped first (a tree that finishes).
  var stateAfter: Partial<Record<LifecycleEvent["type"], string>> = {
    "agentos.child.started": "running",
    "agentos.child.exited": "exited",
    "agentos.child.stopped": "exited",
    "agentos.child.start_failed": "restarting"
  };
  // How many lifecycle events have changed each node: an answer to a re-read that comes after a
  // later event about the same node is older than what the page shows, and is dropped.
  var changes: Record<string, number> = {};
  function applyEvent(event: LifecycleEvent) {
    if (!tree || !event.type || event.type.indexOf("agentos.") !== 0) return;
    if (event.type === "agentos.supervisor.escalated") {
      var sup = findNode(tree, event.supervisor);
      if (sup) sup.state = "escalated";
      changes[event.supervisor] = (changes[event.supervisor] || 0) + 1;
    } else if ("offender" in event && event.offender) {
      var node = findNode(tree, event.offender);
      if (!node) return;
      if (event.type === "agentos.child.restarting") node.state = (event.delayMs ?? 0) > 0 ? "backoff" : "starting";
      else if (stateAfter[event.type]) node.state = stateAfter[event.type]!;
      node.restarts = event.restarts;
      node.pid = event.type === "agentos.child.started" ? event.pid : null;
      if (event.reason) node.reason = event.reason;
      changes[event.offender] = (changes[event.offender] || 0) + 1;
      if (event.type === "agentos.child.exited") reread(event.offender);
    }
    renderTree();
  }
  // The node at `path` as TREE shows it now, in place of the page's; a 404 is a child its
  // supervisor deleted. No answer (the observer stopped) leaves the page as the event left it.
  function reread(path: string) {
    var asked = changes[path];
    fetch("/api/tree?path=" + encodeURIComponent(path)).then(function (response) {
      return response.ok ? response.json() : response.status === 404 ? null : undefined;
    }).then(function (found: PageNode | null | undefined) {
      if (found === undefined || changes[path] !== asked) return;
      var parent = findNode(tree, path.slice(0, path.lastIndexOf("/")));
      if (!parent || !parent.children) return;
      parent.children = found === null
        ? parent.children.filter(function (c) { return c.path !== path; })
        : parent.children.map(function (c) { return c.path === path ? found : c; });
      renderTree();
    }).catch(function () {});
  }

  // -- agents, sparklines ----------------------------------------------------------------------

  var SVG = "http://www.w3.org/2000/svg";
  function sparkline(values: ReadonlyArray<number | null>, max: number, limit: number | null) {
    var w = 90, h = 22;
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "spark");
    svg.setAttribute("width", String(w)); svg.setAttribute("height", String(h));
    svg.setAttribute("viewBox", "0 0 " + w + " " + h);
    var top = max > 0 ? max : 1;
    var step = w / 59;
    var offset = 60 - values.length;
    var points: Array<string> = [];
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
      l.setAttribute("x1", "0"); l.setAttribute("x2", String(w)); l.setAttribute("y1", y); l.setAttribute("y2", y);
      svg.appendChild(l);
    }
    return svg;
  }
  function maxOf(values: ReadonlyArray<number | null>) {
    var m = 0;
    values.forEach(function (v) { if (v !== null && v > m) m = v; });
    return m;
  }

  function renderAgents(agents: ReadonlyArray<AgentView>) {
    var body = document.querySelector("#agents tbody") as HTMLTableSectionElement;
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

  function renderLlm(llm: LlmView) {
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

  function describe(e: LifecycleEvent): [string, string] | null {
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
  function eventItem(e: LifecycleEvent) {
    var d = describe(e);
    if (!d) return null;
    var kind = e.type.split(".").pop();
    return el("li", { class: kind === "escalated" ? "escalation" : kind, "data-type": e.type }, [
      document.createTextNode(time(e.time) + "  " + d[0] + "  " + d[1])
    ]);
  }
  // A supervisor's reason starts with its own path already.
  function escalationText(e: SupervisorReport) {
    var reason = e.reason || "";
    return time(e.time) + "  " + (reason.indexOf(e.supervisor + ":") === 0 ? reason : e.supervisor + ": " + reason);
  }
  function addEvent(e: LifecycleEvent) {
    var item = eventItem(e);
    if (!item) return;
    var list = $("events");
    list.insertBefore(item, list.firstChild);
    while (list.childNodes.length > 100) list.removeChild(list.lastChild!);
    if (e.type === "agentos.supervisor.escalated") {
      $("escalations").hidden = false;
      $("escalation-list").appendChild(el("li", null, [document.createTextNode(escalationText(e))]));
    }
  }
  function renderEvents(events: ReadonlyArray<LifecycleEvent>, escalations: ReadonlyArray<SupervisorReport>) {
    var list = $("events");
    clear(list);
    for (var i = events.length - 1; i >= 0; i--) { var item = eventItem(events[i]!); if (item) list.appendChild(item); }
    var esc = $("escalation-list");
    clear(esc);
    escalations.forEach(function (e) { esc.appendChild(el("li", null, [document.createTextNode(escalationText(e))])); });
    $("escalations").hidden = escalations.length === 0;
  }

  // -- the log of the selected agent -------------------------------------------------------------

  var lastIncarnation: number | null = null;
  function logLine(pre: HTMLElement, l: LogLine) {
    // A restart shows in the log as a marker: the lines of every incarnation are kept.
    if (lastIncarnation !== null && l.incarnation !== lastIncarnation) {
      pre.appendChild(el("span", { class: "marker", text: "— incarnation " + l.incarnation + " (" + l.id + ") —\n" }));
    }
    lastIncarnation = l.incarnation;
    pre.appendChild(el("span", { class: l.stream, "data-seq": l.seq }, [document.createTextNode((l.stream === "stdout" ? "" : "(" + l.stream + ") ") + l.line + "\n")]));
  }
  function select(name: string | null) {
    if (!name || name === selected) return;
    selected = name;
    $("log-name").textContent = name;
    document.querySelectorAll("#agents tr").forEach(function (tr) { tr.classList.toggle("selected", tr.getAttribute("data-agent") === name); });
    var pre = $("log");
    clear(pre);
    if (logSource) logSource.close();
    logSource = new EventSource("/events/logs?name=" + encodeURIComponent(name));
    logSource.addEventListener("tail", function (m) {
      var data: Tail = JSON.parse(m.data);
      clear(pre);
      lastIncarnation = null;
      if (data.dropped > 0) pre.appendChild(el("span", { class: "marker", text: "(" + data.dropped + " lines dropped by the rate limit so far)\n" }));
      data.lines.forEach(function (l) { logLine(pre, l); });
      pre.scrollTop = pre.scrollHeight;
    });
    logSource.addEventListener("line", function (m) {
      var l: LogLine = JSON.parse(m.data);
      var atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      logLine(pre, l);
      while (pre.childNodes.length > LOG_LINES) pre.removeChild(pre.firstChild!);
      if (atBottom) pre.scrollTop = pre.scrollHeight;
    });
    logSource.onerror = function () { pre.appendChild(el("span", { class: "marker", text: "(log stream interrupted; reconnecting)\n" })); };
  }

  // -- actions -----------------------------------------------------------------------------------

  function status(text: string, isError: boolean) {
    var box = $("action-status");
    box.textContent = text;
    box.className = isError ? "error" : "";
  }
  function act(action: string | null, path: string | null) {
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
      return response.json().then(function (body: { readonly error?: string }) {
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
      var s: Received = JSON.parse(m.data);
      tree = s.tree;
      renderTree();
      renderAgents(s.agents);
      renderLlm(s.llm);
      renderEvents(s.events, s.escalations);
      $("clock").textContent = "kernel time " + time(s.time);
    });
    source.addEventListener("lifecycle", function (m) {
      var e: LifecycleEvent = JSON.parse(m.data);
      applyEvent(e);
      addEvent(e);
    });
  }

  renderTokenState();
  connect();
})();
