// The quality page: reads /api/dashboard and /health, draws the runs table, the check grid
// and three SVG line charts. No framework and no external assets (the machine may have no
// internet); everything is built with DOM calls, so no server text is parsed as HTML.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const RETAILER_COLORS = { retailer1: "var(--r1)", retailer2: "var(--r2)", retailer3: "var(--r3)" };
const STATUS_ORDER = ["pass", "warn", "fail", "error"];
const REFRESH_MS = 60000;
const fmtInt = new Intl.NumberFormat("en-US");
const fmtUsd = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD",
  notation: "compact", maximumFractionDigits: 1 });
const fmtPct = new Intl.NumberFormat("en-US", { style: "percent", maximumFractionDigits: 1 });

// --- small DOM helpers ---------------------------------------------------------------------
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    // Through the CSSOM: the page's Content-Security-Policy refuses style attributes.
    else if (key === "style") node.style.cssText = value;
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  for (const child of children.flat()) if (child) node.append(child);
  return node;
}

function shortRetailer(id) {
  return id === "*" ? "all" : id.replace("retailer", "R");
}

function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return d.toISOString().slice(5, 16).replace("T", " ");
}

function duration(start, end) {
  if (!start || !end) return "—";
  const s = Math.max(0, (new Date(end) - new Date(start)) / 1000);
  return s < 90 ? `${s.toFixed(1)} s` : `${(s / 60).toFixed(1)} min`;
}

async function getJson(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  // /health answers 503 with a full body when something is wrong: still worth reading.
  const body = await response.json();
  return { status: response.status, body };
}

// --- health --------------------------------------------------------------------------------
function renderHealth(health) {
  const pill = document.getElementById("health");
  const ok = health.status === "ok";
  pill.className = `pill ${ok ? "pill-ok" : "pill-failing"}`;
  pill.textContent = ok ? "Healthy" : "Failing";
  const lag = document.getElementById("stream-lag");
  const consumers = health.stream_consumers || [];
  lag.textContent = consumers.map((c) => `${c.retailer_id} stream lag ${c.lag_messages}`).join(", ");
  const box = document.getElementById("problems");
  box.replaceChildren();
  if (ok || !health.problems || !health.problems.length) { box.hidden = true; return; }
  box.hidden = false;
  box.append(el("h2", { text: "Needs attention (GET /health answers 503)" }),
    el("ul", {}, health.problems.slice(0, 12).map((p) => el("li", { text: p }))));
}

// --- runs ----------------------------------------------------------------------------------
function countsBar(run) {
  const total = STATUS_ORDER.reduce((n, s) => n + (run[s === "error" ? "errors" : s] || 0), 0);
  const bar = el("span", { class: "bar", title: "checks by status" });
  for (const s of STATUS_ORDER) {
    const n = run[s === "error" ? "errors" : s] || 0;
    if (n) bar.append(el("i", { class: `st-${s}`, style: `width:${(100 * n) / total}%` }));
  }
  const text = total
    ? `${run.pass} pass · ${run.warn} warn · ${run.fail} fail · ${run.errors} error`
    : "not judged yet";
  return [bar, el("span", { class: "counts", text })];
}

function renderRuns(runs) {
  const table = document.getElementById("runs");
  table.replaceChildren();
  if (!runs.length) { table.append(el("tr", {}, el("td", { class: "empty", text: "No runs yet." }))); return; }
  table.append(el("thead", {}, el("tr", {}, ["Date", "Verdict", "Checks", "Kind", "Retailers",
    "Started", "Took", "Run"].map((h) => el("th", { text: h })))));
  const body = el("tbody");
  for (const run of runs) {
    body.append(el("tr", {},
      el("td", { class: "mono", text: run.run_date }),
      el("td", {}, el("span", { class: `badge v-${run.status}`, text: run.status.replaceAll("_", " ") }),
        run.error ? el("span", { class: "error-text", title: run.error, text: ` ${run.error}` }) : null),
      el("td", {}, countsBar(run)),
      el("td", { text: run.kind }),
      el("td", { text: run.retailers.map(shortRetailer).join(" ") }),
      el("td", { class: "mono", text: when(run.started_at || run.created_at) }),
      el("td", { text: duration(run.started_at, run.finished_at) }),
      el("td", { class: "mono muted", title: run.run_id, text: run.run_id.slice(0, 8) })));
  }
  table.append(body);
}

// --- grid ----------------------------------------------------------------------------------
function renderGrid(grid) {
  const table = document.getElementById("grid");
  table.replaceChildren();
  if (!grid.columns.length) {
    table.append(el("tr", {}, el("td", { class: "empty", text: "No check results yet." })));
    return;
  }
  const dates = [];
  for (const col of grid.columns) {
    const last = dates[dates.length - 1];
    if (last && last.run_date === col.run_date) last.span += 1;
    else dates.push({ run_date: col.run_date, run_status: col.run_status, span: 1 });
  }
  // The first column of each date gets a left rule, so dates read as groups.
  const firstOfDate = new Set(grid.columns.map((c, i) =>
    (i === 0 || grid.columns[i - 1].run_date !== c.run_date ? i : -1)));
  table.append(el("thead", {},
    el("tr", {}, el("th", { class: "name" }), dates.map((d) => el("th", {
      class: "date", colspan: d.span, title: `latest run: ${d.run_status}`,
    }, d.run_date.slice(5), " ", el("span", { class: `dot st-${verdictStatus(d.run_status)}` })))),
    el("tr", {}, el("th", { class: "name", text: "check" }),
      grid.columns.map((c) => el("th", { text: shortRetailer(c.retailer_id) })))));
  const body = el("tbody");
  let kind = null;
  for (const check of grid.checks) {
    if (check.kind !== kind) {
      kind = check.kind;
      body.append(el("tr", { class: "kind" },
        el("td", { colspan: grid.columns.length + 1, text: (kind || "").replaceAll("_", " ") })));
    }
    const cells = grid.cells[check.check_name] || {};
    body.append(el("tr", { "data-check": check.check_name },
      el("td", { class: "name", title: check.description || "" }, check.check_name,
        el("span", { class: `sev sev-${check.severity}`, text: check.severity })),
      grid.columns.map((col, i) => {
        const cell = cells[`${col.run_date}|${col.retailer_id}`];
        const td = el("td", { class: `cell${firstOfDate.has(i) ? " first" : ""}` });
        // A run-wide check has no per-retailer cells and the other way round: leave blank.
        const applies = (check.scope === "run") === (col.retailer_id === "*");
        if (!cell && !applies) return td;
        if (!cell) {
          td.append(el("span", { class: "cellbtn st-none", title: "not run" }));
        } else {
          td.append(el("button", {
            type: "button", class: `cellbtn st-${cell.status}`, "data-status": cell.status,
            "data-result": cell.result_id,
            title: `${check.check_name} · ${col.retailer_id} · ${col.run_date}\n${cell.status}: ${cell.message}`,
            "aria-label": `${check.check_name} ${col.retailer_id} ${col.run_date} ${cell.status}`,
            onclick: (e) => {
              document.querySelectorAll(".cellbtn.selected").forEach((b) => b.classList.remove("selected"));
              e.currentTarget.classList.add("selected");
              openResult(cell.result_id);
            },
          }));
        }
        return td;
      })));
  }
  table.append(body);
}

function verdictStatus(runStatus) {
  return { succeeded: "pass", succeeded_with_warnings: "warn", failed: "fail" }[runStatus] || "none";
}

// --- details panel -------------------------------------------------------------------------
function sampleTable(sample) {
  if (!sample || !sample.length) return el("p", { class: "muted", text: "No failing keys." });
  const show = (v) => (v === null || v === undefined ? "∅"
    : typeof v === "object" ? JSON.stringify(v) : String(v));
  // Stored as jsonb, rows lose their column order; keys (ids, line numbers) go first.
  const isKey = (c) => c.endsWith("_id") || c.endsWith("_key") || c === "line_number";
  const all = [...new Set(sample.flatMap((row) => Object.keys(row)))];
  const columns = [...all.filter(isKey), ...all.filter((c) => !isKey(c))];
  if (sample.length === 1) {  // one row (a reconciliation breakdown) reads best as a list
    return el("table", { class: "sample" }, el("tbody", {}, columns.map((c) =>
      el("tr", {}, el("th", { text: c }), el("td", { class: "mono", text: show(sample[0][c]) })))));
  }
  return el("div", { class: "table-wrap" }, el("table", { class: "sample" },
    el("thead", {}, el("tr", {}, columns.map((c) => el("th", { text: c })))),
    el("tbody", {}, sample.map((row) => el("tr", {}, columns.map((c) => el("td", { class: "mono", text: show(row[c]) })))))));
}

async function openResult(resultId) {
  const panel = document.getElementById("panel");
  const body = document.getElementById("panel-body");
  body.replaceChildren(el("p", { class: "muted", text: "Loading…" }));
  panel.hidden = false;
  const { status, body: r } = await getJson(`/results/${resultId}`);
  if (status !== 200) { body.replaceChildren(el("p", { text: r.detail || "not found" })); return; }
  const num = (v) => (v === null || v === undefined ? "—" : String(v));
  body.replaceChildren(
    el("h3", {}, r.check_name, " ", el("span", { class: `badge st-${r.status}`, text: r.status })),
    el("p", { class: "muted", text: r.description || "" }),
    el("div", { class: "message", text: r.message }),
    el("dl", {},
      el("dt", { text: "Retailer" }), el("dd", { text: r.retailer_id === "*" ? "run-wide" : r.retailer_id }),
      el("dt", { text: "Date" }), el("dd", { class: "mono", text: r.run_date }),
      el("dt", { text: "Severity" }), el("dd", {}, el("span", { class: `sev-${r.severity}`, text: r.severity })),
      el("dt", { text: "Observed" }), el("dd", { class: "mono", text: num(r.observed) }),
      el("dt", { text: "Threshold" }), el("dd", { class: "mono", text: `${num(r.threshold)}  (${r.rule || ""})` }),
      el("dt", { text: "Evaluated" }), el("dd", { text: `${when(r.finished_at)} UTC · ${r.duration_ms} ms · ${r.evaluations}×` }),
      el("dt", { text: "Run" }), el("dd", { class: "mono", text: r.run_id })),
    el("h4", { text: `Failing sample (${(r.sample || []).length})` }),
    sampleTable(r.sample),
    el("details", {}, el("summary", { text: r.body_kind === "sql" ? "SQL" : "Python" }), el("pre", { text: r.body || "" })),
    el("p", {}, el("a", { href: `/results/${r.result_id}`, target: "_blank", text: "raw JSON" })));
}

// --- charts --------------------------------------------------------------------------------
function niceMax(value) {
  if (!(value > 0)) return 1;
  const exp = Math.pow(10, Math.floor(Math.log10(value)));
  const f = value / exp;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * exp;
}

function lineChart(figureId, dates, seriesByRetailer, format) {
  const figure = document.getElementById(figureId);
  figure.querySelector("svg")?.remove();
  const W = 420, H = 210, m = { top: 10, right: 12, bottom: 24, left: 52 };
  const iw = W - m.left - m.right, ih = H - m.top - m.bottom;
  const values = Object.values(seriesByRetailer).flat().filter((v) => v !== null);
  const max = niceMax(Math.max(0, ...values));
  const x = (i) => m.left + (dates.length > 1 ? (i * iw) / (dates.length - 1) : iw / 2);
  const y = (v) => m.top + ih - (v / max) * ih;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": figure.querySelector("figcaption").textContent });
  const axis = svg("g", { class: "axis" });
  for (let k = 0; k <= 4; k++) {
    const v = (max * k) / 4;
    axis.append(svg("line", { class: "gridline", x1: m.left, x2: W - m.right, y1: y(v), y2: y(v) }),
      svg("text", { x: m.left - 6, y: y(v) + 3.5, "text-anchor": "end" }, document.createTextNode(format(v))));
  }
  const ticks = [0, Math.floor((dates.length - 1) / 2), dates.length - 1];
  for (const i of [...new Set(ticks)]) {
    axis.append(svg("text", { x: x(i), y: H - 6, "text-anchor": i === 0 ? "start" : i === dates.length - 1 ? "end" : "middle" },
      document.createTextNode(dates[i].slice(5))));
  }
  root.append(axis);
  for (const [retailer, points] of Object.entries(seriesByRetailer)) {
    // Days without data (null) break the line instead of drawing a fake zero.
    let d = "", pen = "M";
    points.forEach((v, i) => {
      if (v === null) { pen = "M"; return; }
      d += `${pen}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      pen = "L";
    });
    const color = RETAILER_COLORS[retailer] || "#888";
    if (d) root.append(svg("path", { class: "series", d, stroke: color, "data-retailer": retailer }));
    points.forEach((v, i) => {
      if (v === null) return;
      root.append(svg("circle", { class: "pt", cx: x(i), cy: y(v), r: 2.6, fill: color },
        svg("title", {}, document.createTextNode(`${retailer} · ${dates[i]} · ${format(v)}`))));
    });
  }
  figure.append(root);
}

function renderCharts(series) {
  document.getElementById("charts-title").textContent =
    `Last ${series.dates.length} days (to ${series.dates[series.dates.length - 1]})`;
  document.getElementById("chart-legend").replaceChildren(...series.retailers.map((r) =>
    el("span", {}, el("i", { class: "dot", style: `background:${RETAILER_COLORS[r]}` }), r)));
  lineChart("chart-lines", series.dates, series.lines, (v) => fmtInt.format(Math.round(v)));
  lineChart("chart-revenue", series.dates, series.revenue_usd, (v) => fmtUsd.format(v));
  lineChart("chart-rejected", series.dates, series.rejected_share, (v) => fmtPct.format(v));
}

// --- wiring --------------------------------------------------------------------------------
async function refresh() {
  const [dashboard, health] = await Promise.all([getJson("/api/dashboard"), getJson("/health")]);
  renderHealth(health.body);
  renderRuns(dashboard.body.runs);
  renderGrid(dashboard.body.grid);
  renderCharts(dashboard.body.series);
  document.getElementById("generated").textContent = `updated ${when(dashboard.body.generated_at)} UTC`;
  document.body.dataset.ready = "true";  // lets a browser test wait for the first render
}

document.getElementById("refresh").addEventListener("click", refresh);
function closePanel() {
  document.getElementById("panel").hidden = true;
  document.querySelectorAll(".cellbtn.selected").forEach((b) => b.classList.remove("selected"));
}
document.getElementById("panel-close").addEventListener("click", closePanel);
document.addEventListener("keydown", (e) => { if (e.key === "Escape") closePanel(); });
refresh();
setInterval(refresh, REFRESH_MS);
