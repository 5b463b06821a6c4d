// The Slipstream dashboard: one page whose views (#cluster, #queries,
// #query/ID, #tables, #config) poll the node's JSON API every second and
// redraw. Every string from the server (table, column and node names,
// query text, errors) goes into the page through textContent or an
// attribute value, never parsed as HTML: this file must not use
// innerHTML, outerHTML, insertAdjacentHTML or document.write (a Go test
// checks).
"use strict";

const POLL_MS = 1000;

// el makes an element: el("td", {class: "x", title: "y"}, child, "text", ...).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null) e.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// svg is el for SVG elements (text only through text nodes, as el).
function svg(tag, attrs, ...children) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null) e.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function bytes(n) {
  if (n === undefined || n === null || n < 0) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + " " + units[i];
}

function secs(s) {
  if (s === undefined || s === null) return "–";
  if (s < 1) return (s * 1000).toFixed(0) + " ms";
  if (s < 120) return s.toFixed(1) + " s";
  return Math.floor(s / 60) + " min " + Math.round(s % 60) + " s";
}

function badge(state) {
  return el("span", {class: "badge state-" + String(state).replace(/[^a-z_]/g, ""), "data-state": state}, state);
}

// bar is a progress bar of done out of total (a fraction when total is 0/undefined).
function bar(done, total, label, extra) {
  const frac = total > 0 ? Math.min(1, done / total) : 0;
  const fill = el("div", {class: "fill"});
  fill.style.width = (frac * 100).toFixed(1) + "%";
  if (extra && extra.running > 0 && total > 0) {
    const run = el("div", {class: "fill running"});
    run.style.left = (frac * 100).toFixed(1) + "%";
    run.style.width = (Math.min(1 - frac, extra.running / total) * 100).toFixed(1) + "%";
    return el("div", {class: "bar", "data-done": done, "data-total": total, role: "progressbar",
      "aria-valuenow": done, "aria-valuemax": total}, fill, run, el("span", {class: "label"}, label));
  }
  return el("div", {class: "bar", "data-done": done, "data-total": total, role: "progressbar",
    "aria-valuenow": done, "aria-valuemax": total}, fill, el("span", {class: "label"}, label));
}

// webLink is a link to url when it is a web address (never javascript: or
// data:), else the text alone.
function webLink(url, text) {
  return /^https?:\/\//.test(String(url || "")) ? el("a", {href: url}, text) : document.createTextNode(String(text));
}

function table(head, rows, attrs) {
  return el("table", attrs || {},
    el("thead", {}, el("tr", {}, head.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows));
}

async function getJSON(path) {
  const r = await fetch(path, {cache: "no-store"});
  const body = await r.json().catch(() => ({error: "the node answered " + r.status + " with no JSON"}));
  if (!r.ok) {
    const e = new Error(body.error || ("HTTP " + r.status));
    e.status = r.status; // the node answered: it is up, the request was wrong
    throw e;
  }
  return body;
}

// ------------------------------------------------------------------ views

async function viewCluster() {
  const c = await getJSON("/api/cluster");
  const rows = (c.members || []).map((m) => el("tr", {"data-member": m.name, "data-state": m.state},
    el("td", {}, webLink(m.dashboard, m.name), m.self ? el("span", {class: "muted"}, " (this node)") : null),
    el("td", {}, badge(m.state)),
    el("td", {class: "mono"}, m.address),
    el("td", {class: "num"}, m.cores),
    el("td", {class: "mem"}, m.memory_used !== undefined
      ? bar(m.memory_used, m.memory_limit || m.memory_bytes, bytes(m.memory_used) + " / " + bytes(m.memory_limit || m.memory_bytes))
      : el("span", {class: "muted"}, "? / " + bytes(m.memory_bytes))),
    el("td", {class: "num"}, m.partitions)));
  const alive = (c.members || []).filter((m) => m.state === "alive").length;
  const under = (c.under_replicated || []).length;
  return [
    el("h2", {}, "Cluster"),
    el("p", {class: "summary"},
      el("span", {}, alive + " of " + (c.members || []).length + " members alive"),
      el("span", {}, "replication " + c.replication + " (at least " + c.min_replicas + " before an upload is acknowledged)"),
      el("span", {class: under ? "warn" : ""}, under + " partitions under-replicated"),
      el("span", {}, (c.repairs_pending || 0) + " repairs pending")),
    table(["member", "state", "address", "cores", "memory used / limit", "partitions held"], rows, {id: "members"}),
    ...copiesInProgress(c.repairs || []),
  ];
}

// copiesInProgress lists the partition copies this node makes or drives
// (repairs, re-replication, rebalancing); nothing when there are none.
function copiesInProgress(copies) {
  if (!copies.length) return [];
  return [el("h3", {}, "Copies in progress"),
    table(["kind", "table", "partition", "from", "to", "copied", "time"], copies.map((r) => el("tr", {"data-copy": r.partition_id},
      el("td", {}, r.kind), el("td", {}, r.table), el("td", {class: "mono"}, r.partition_id),
      el("td", {}, r.from), el("td", {}, r.to), el("td", {class: "num"}, bytes(r.bytes_copied)),
      el("td", {class: "num"}, secs(r.seconds)))), {id: "copies"})];
}

async function viewQueries() {
  const q = await getJSON("/api/queries");
  const rows = (q.queries || []).map((x) => el("tr", {"data-query": x.id, "data-state": x.state},
    el("td", {class: "mono"}, el("a", {href: "#query/" + encodeURIComponent(x.id)}, x.id)),
    el("td", {}, badge(x.state)),
    el("td", {}, new Date(x.started).toLocaleTimeString()),
    el("td", {class: "num"}, secs(x.seconds)),
    el("td", {class: "num"}, x.nodes),
    el("td", {class: "progress"}, bar(x.tasks_done, x.tasks, x.tasks_done + " / " + x.tasks + " tasks", {running: x.tasks_running})),
    el("td", {class: "error"}, x.error || "")));
  const running = (q.queries || []).filter((x) => ["planning", "ready", "running", "cancelling"].includes(x.state)).length;
  return [
    el("h2", {}, "Queries"),
    el("p", {class: "summary"}, el("span", {}, running + " running"), el("span", {}, (q.queries || []).length + " known (the last 200 this node coordinated)")),
    rows.length ? table(["query", "state", "started", "time", "nodes", "progress", "error"], rows, {id: "queries"})
      : el("p", {class: "muted"}, "No queries yet."),
  ];
}

async function viewQuery(id) {
  const q = await getJSON("/api/queries/" + encodeURIComponent(id));
  const out = [
    el("h2", {}, "Query ", el("span", {class: "mono"}, q.id), " ", badge(q.state)),
    el("p", {class: "summary"},
      el("span", {}, secs(q.seconds)),
      el("span", {}, (q.nodes || 1) + " node(s)"),
      el("span", {}, q.tasks_done + " / " + q.tasks + " tasks"),
      el("span", {}, "read " + bytes(q.bytes_read) + " (" + (q.rows_read || 0) + " rows)"),
      el("span", {}, "shuffled " + bytes(q.bytes_shuffled)),
      el("span", {}, "spilled " + bytes(q.spilled_bytes)),
      q.peak_bytes ? el("span", {}, "peak memory " + bytes(q.peak_bytes)) : null),
  ];
  if (q.error) out.push(el("p", {class: "error"}, q.error));
  out.push(el("h3", {}, "Stages"), stageGraph(q), stages(q));
  out.push(el("h3", {}, "Task attempts by node"), timeline(q));
  if (q.stages) out.push(el("h3", {}, "Plan, cut into stages"), el("pre", {class: "plan"}, q.stages));
  if (q.plan) out.push(el("h3", {}, "Plan"), el("pre", {class: "plan"}, typeof q.plan === "string" ? q.plan : JSON.stringify(q.plan, null, 2)));
  if ((q.operators || []).length) {
    out.push(el("h3", {}, "Operators that held memory"), table(["stage", "operator", "peak", "spilled", "count"],
      q.operators.map((o) => el("tr", {}, el("td", {class: "num"}, o.stage), el("td", {class: "mono"}, o.operator),
        el("td", {class: "num"}, bytes(o.peak_bytes)), el("td", {class: "num"}, bytes(o.spilled_bytes)), el("td", {class: "num"}, o.count)))));
  }
  return out;
}

// stages draws each stage as a step of an ordered list with its progress;
// a stage reads the ones before it (the plan below shows the exchanges).
function stages(q) {
  const titles = stageTitles(q.stages);
  const items = (q.progress || []).map((p) => {
    const retries = Math.max(0, p.attempts - p.done - p.running);
    return el("li", {class: "stage" + (p.stage === q.stage && p.done < p.tasks ? " current" : ""), "data-stage": p.stage},
      el("div", {class: "stage-head"},
        el("strong", {}, "Stage " + p.stage),
        titles[p.stage] ? el("span", {class: "mono muted"}, " " + titles[p.stage]) : null,
        retries > 0 ? el("span", {class: "retry"}, " " + retries + " retried or lost") : null),
      bar(p.done, p.tasks, p.done + " / " + p.tasks + " done" + (p.running ? ", " + p.running + " running" : ""), {running: p.running}));
  });
  return el("ol", {class: "stages", id: "stages"}, items);
}

// stageGraph draws the stages as a graph, left to right: a stage stands
// one column right of the deepest stage it reads; each box shows the
// stage's progress and an arrow comes from each stage whose output it
// reads.
function stageGraph(q) {
  const prog = q.progress || [];
  if (prog.length < 2) return null;
  const depth = {};
  const depthOf = (s) => {
    if (depth[s] !== undefined) return depth[s];
    const p = prog[s] || {inputs: []};
    depth[s] = 0; // a cycle cannot happen; this stops one anyway
    depth[s] = (p.inputs || []).reduce((d, i) => Math.max(d, depthOf(i) + 1), 0);
    return depth[s];
  };
  const cols = [];
  prog.forEach((p) => { const d = depthOf(p.stage); (cols[d] = cols[d] || []).push(p.stage); });
  const W = 170, H = 58, GX = 60, GY = 18, PAD = 10;
  const pos = {};
  cols.forEach((stagesIn, c) => stagesIn.forEach((s, r) => { pos[s] = {x: PAD + c * (W + GX), y: PAD + r * (H + GY)}; }));
  const width = PAD * 2 + cols.length * W + (cols.length - 1) * GX;
  const height = PAD * 2 + Math.max(...cols.map((c) => c.length)) * (H + GY) - GY;
  const titles = stageTitles(q.stages);
  const parts = [svg("defs", {}, svg("marker", {id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse"},
    svg("path", {d: "M 0 0 L 10 5 L 0 10 z", fill: "#7a869a"})))];
  prog.forEach((p) => (p.inputs || []).forEach((i) => {
    const a = pos[i], b = pos[p.stage];
    if (!a || !b) return;
    parts.push(svg("line", {class: "edge", x1: a.x + W, y1: a.y + H / 2, x2: b.x - 2, y2: b.y + H / 2, stroke: "#7a869a", "marker-end": "url(#arrow)"}));
  }));
  prog.forEach((p) => {
    const {x, y} = pos[p.stage];
    const frac = p.tasks ? p.done / p.tasks : 0;
    const current = p.stage === q.stage && p.done < p.tasks;
    const title = (titles[p.stage] || "").split(" · ")[0];
    parts.push(svg("g", {class: "stage-node" + (current ? " current" : ""), "data-stage": p.stage},
      svg("title", {}, "Stage " + p.stage + ": " + (titles[p.stage] || "")),
      svg("rect", {x, y, width: W, height: H, rx: 5, fill: "#fff", stroke: current ? "#2f6fdf" : "#b8c4d8", "stroke-width": current ? 2 : 1}),
      svg("text", {x: x + 8, y: y + 17, "font-weight": "bold", "font-size": 12}, "Stage " + p.stage),
      svg("text", {x: x + 62, y: y + 17, "font-size": 11, fill: "#5b6577"}, title.length > 18 ? title.slice(0, 17) + "…" : title),
      svg("rect", {x: x + 8, y: y + 26, width: W - 16, height: 8, rx: 3, fill: "#e6eaf1"}),
      svg("rect", {class: "done", x: x + 8, y: y + 26, width: (W - 16) * frac, height: 8, rx: 3, fill: frac >= 1 ? "#3a9d5d" : "#2f6fdf"}),
      svg("text", {x: x + 8, y: y + 50, "font-size": 11}, p.done + " / " + p.tasks + " tasks" + (p.running ? ", " + p.running + " running" : ""))));
  });
  return svg("svg", {id: "stage-graph", width, height, viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": "stage graph"}, parts);
}

// stageTitles names each stage by its top operator (the line under
// "Stage N ..." in the stages text) and how its tasks are cut and where
// its output goes (the rest of that line).
function stageTitles(text) {
  const out = {};
  const lines = String(text || "").split("\n");
  lines.forEach((line, i) => {
    const m = /^Stage\s+(\d+)\s*(.*)$/.exec(line);
    if (m && i + 1 < lines.length) out[m[1]] = lines[i + 1].trim() + (m[2] ? " · " + m[2] : "");
  });
  return out;
}

// timeline draws every task attempt as a bar on its node's row, from its
// start to its end (or now); failed attempts are marked ✕ and lost ones
// (their node died after they were done) are struck through.
function timeline(q) {
  const receipts = q.receipts || [];
  if (!receipts.length) return el("p", {class: "muted"}, "No task attempts recorded (a query run by one node alone is one task).");
  const total = Math.max(q.seconds || 0, ...receipts.map((r) => (r.start || 0) + (r.seconds || 0)), 0.001);
  const nodes = [...new Set(receipts.map((r) => r.node))].sort();
  const rows = nodes.map((n) => {
    // Attempts that overlap in time go on separate lines of the node's row.
    const ends = [];
    const bars = [];
    const mine = receipts.filter((x) => x.node === n).sort((a, b) => (a.start || 0) - (b.start || 0));
    for (const r of mine) {
      const start = r.start || 0;
      const len = r.state === "running" ? Math.max(0, (q.seconds || 0) - start) : (r.seconds || 0);
      let line = ends.findIndex((end) => end <= start);
      if (line < 0) line = ends.push(0) - 1;
      ends[line] = start + Math.max(len, total / 200);
      const mark = r.state === "failed" ? "✕ " : r.state === "lost" ? "lost " : r.attempt > 0 ? "retry " : "";
      const b = el("div", {class: "attempt st-" + r.state.replace(/[^a-z]/g, ""), "data-state": r.state,
        title: "stage " + r.stage + " task " + r.task + " attempt " + r.attempt + ": " + r.state +
          " in " + secs(len) + (r.rows ? ", " + r.rows + " rows" : "") + (r.error ? "\n" + r.error : "")},
      mark + r.stage + "." + r.task);
      b.style.left = (start / total * 100).toFixed(2) + "%";
      b.style.width = Math.max(0.5, len / total * 100).toFixed(2) + "%";
      b.style.top = (line * 21 + 1) + "px";
      bars.push(b);
    }
    const lane = el("div", {class: "lane"}, bars);
    lane.style.height = (Math.max(1, ends.length) * 21) + "px";
    return el("div", {class: "tl-row", "data-node": n}, el("div", {class: "tl-node"}, n), lane);
  });
  return el("div", {class: "timeline", id: "timeline"}, rows,
    el("div", {class: "tl-axis muted"}, "0 s", el("span", {}, secs(total))));
}

async function viewTables() {
  const t = await getJSON("/api/tables");
  if (!(t.tables || []).length) return [el("h2", {}, "Tables"), el("p", {class: "muted"}, "No tables yet.")];
  return [el("h2", {}, "Tables"), ...t.tables.map((x) => el("section", {class: "table", "data-table": x.name},
    el("h3", {}, el("span", {class: "tname"}, x.name)),
    el("p", {class: "summary"},
      el("span", {}, x.rows + " rows"),
      el("span", {}, x.partitions.length + " partitions"),
      el("span", {}, bytes(x.bytes) + " (one copy of each partition)"),
      el("span", {}, bytes(x.bytes_here) + " on " + t.node),
      x.under_replicated ? el("span", {class: "warn under"}, x.under_replicated + " under-replicated") : null),
    el("p", {class: "columns"}, x.columns.map((c) => el("span", {class: "col"},
      el("span", {class: "cname"}, c.name), el("span", {class: "muted"}, ": " + c.type + (c.nullable ? "" : " not null"))))),
    table(["partition", "rows", "size", "held by"], x.partitions.map((p) => el("tr", {},
      el("td", {class: "mono"}, p.id), el("td", {class: "num"}, p.rows),
      el("td", {class: "num"}, bytes(p.bytes)),
      el("td", {}, p.holders.map((h) => el("span", {class: "chip" + (h === t.node ? " here" : "")}, h)),
        p.under_replicated ? el("span", {class: "warn under"}, "under-replicated") : null)))))),
  ];
}

async function viewConfig() {
  const c = await getJSON("/api/config");
  return [el("h2", {}, "Configuration of ", el("span", {class: "mono"}, c.node)),
    el("p", {class: "muted"}, "As slipstream serve --print-config prints it; slipstream serve --config FILE reads it back."),
    el("pre", {class: "config", id: "config"}, c.text)];
}

// ------------------------------------------------------------------ the loop

function route() {
  const h = decodeURIComponent(location.hash.replace(/^#/, "")) || "cluster";
  if (h.startsWith("query/")) return {view: "queries", draw: () => viewQuery(h.slice(6))};
  const views = {cluster: viewCluster, queries: viewQueries, tables: viewTables, config: viewConfig};
  return {view: views[h] ? h : "cluster", draw: views[h] || viewCluster};
}

let timer = null;
let generation = 0;

async function refresh() {
  clearTimeout(timer);
  const gen = ++generation;
  const r = route();
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.view === r.view);
  const live = document.getElementById("live");
  try {
    const content = await r.draw();
    if (gen !== generation) return; // the view changed meanwhile
    document.getElementById("main").replaceChildren(...content);
    live.textContent = "live · " + new Date().toLocaleTimeString();
    live.className = "muted";
  } catch (e) {
    if (gen !== generation) return;
    if (e.status) {
      document.getElementById("main").replaceChildren(el("p", {class: "error", id: "problem"}, e.message));
      live.textContent = "live · " + new Date().toLocaleTimeString();
      live.className = "muted";
    } else {
      live.textContent = "cannot reach the node: " + e.message;
      live.className = "error";
    }
  }
  timer = setTimeout(refresh, POLL_MS);
}

async function header() {
  try {
    const n = await getJSON("/api/node");
    document.getElementById("node").textContent = "node " + n.name + " · " + n.version;
  } catch (e) {
    // the loop reports it
  }
}

window.addEventListener("hashchange", refresh);
header();
refresh();
