// The Telltale API analytics dashboard: paste an API key, see what the middleware logged.
// Data comes from /api/stats and /api/uptime on the same origin, sent with the key in X-AUTH-TOKEN.
// Every value from the API is written with textContent, never as HTML.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import "./style.css";

const $ = (id) => document.getElementById(id);
const KEY_STORE = "telltale.apiKey";
const charts = {};
const state = { stats: null, uptime: null, endpoint: null, explorer: { header: [], rows: [], view: 0, page: 1 } };
// The raw-request explorer shows this many rows at a time, of the data API's 50,000-row pages.
const VIEW_ROWS = 50;
const DATA_PAGE = 50000;
const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
window.telltaleDashboard = { charts, state };

function apiKey() {
  return $("api-key").value.trim();
}

async function api(path, params, method = "GET", payload = undefined, whole = false) {
  const url = new URL(path, window.location.origin);
  for (const [k, v] of Object.entries(params || {})) if (v) url.searchParams.set(k, v);
  const headers = { "X-AUTH-TOKEN": apiKey() };
  if (payload !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(url, { method, headers, body: payload === undefined ? undefined : JSON.stringify(payload) });
  let body = null;
  try {
    body = await r.json();
  } catch (e) {
    body = { message: `HTTP ${r.status}` };
  }
  if (!r.ok) {
    const fields = body.errors ? " (" + Object.keys(body.errors).join(", ") + ")" : "";
    throw new Error((body.message || `HTTP ${r.status}`) + fields);
  }
  return whole ? body : body.data;
}

function filters() {
  const f = { dateFrom: $("date-from").value, dateTo: $("date-to").value, hostname: $("hostname").value };
  if (state.endpoint) {
    f.method = state.endpoint.method;
    f.path = state.endpoint.path;
  }
  return f;
}

function fmtInt(n) {
  return Number(n || 0).toLocaleString("en-US");
}

function fmtMs(n) {
  return n === null || n === undefined ? "–" : `${Math.round(Number(n))} ms`;
}

function fmtPct(x) {
  return x === null || x === undefined ? "–" : `${(Number(x) * 100).toFixed(1)}%`;
}

function setText(id, text) {
  $(id).textContent = text;
}

// Ranked lists (top endpoints, status codes, countries, ...) stay text with a bar behind the count, not
// canvas charts: labels such as long paths stay readable, selectable and visible to screen readers
// (a list of items, each named "label: n requests"), which a uPlot bar chart would draw as pixels.
function barList(id, rows, label) {
  const el = $(id);
  el.replaceChildren();
  el.setAttribute("role", "list");
  if (!rows.length) {
    const empty = document.createElement("p");
    empty.className = "empty";
    empty.textContent = "No data";
    el.append(empty);
    return;
  }
  const max = Math.max(...rows.map((r) => Number(r.requests)));
  for (const r of rows) {
    const row = document.createElement("div");
    row.className = "bar-row";
    row.setAttribute("role", "listitem");
    row.setAttribute("aria-label", `${label(r)}: ${fmtInt(r.requests)} requests`);
    row.dataset.name = label(r);
    row.dataset.count = String(r.requests);
    const name = document.createElement("span");
    name.className = "bar-label";
    name.textContent = label(r);
    const track = document.createElement("span");
    track.className = "bar-track";
    track.setAttribute("aria-hidden", "true");
    const fill = document.createElement("span");
    fill.className = "bar-fill";
    fill.style.width = `${Math.max(2, (100 * Number(r.requests)) / max)}%`;
    track.append(fill);
    const count = document.createElement("span");
    count.className = "bar-count";
    count.textContent = fmtInt(r.requests);
    row.append(name, track, count);
    el.append(row);
  }
}

function toSeconds(iso) {
  return Date.parse(iso.endsWith("Z") || iso.includes("+") ? iso : iso + "Z") / 1000;
}

// yRange: a fixed [min, max] for the y axis (uptime is 0-100 %); by default from 0 to the data's maximum.
function drawChart(id, series, data, yRange = null) {
  const el = $(id);
  if (charts[id]) {
    charts[id].destroy();
    delete charts[id];
  }
  el.replaceChildren();
  el.dataset.points = String(data[0].length);
  if (!data[0].length) {
    const empty = document.createElement("p");
    empty.className = "empty";
    empty.textContent = "No data";
    el.append(empty);
    return;
  }
  const opts = {
    width: Math.max(300, el.clientWidth || 600),
    height: 220,
    series: [{}, ...series],
    axes: [{}, { size: 60 }],
    legend: { show: true },
    scales: { y: { range: yRange ? () => yRange : (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
  };
  if (data[0].length === 1) {
    // One bucket: uPlot cannot infer a time span from a single x, so show a day around it.
    const x = data[0][0];
    opts.scales.x = { time: true, range: () => [x - 43200, x + 43200] };
  }
  charts[id] = new uPlot(opts, data, el);
}

function renderStats(s) {
  const t = s.totals;
  setText("stat-requests", fmtInt(t.requests));
  setText("stat-success", t.requests ? fmtPct(t.success_rate) : "–");
  setText("stat-users", fmtInt(t.users));
  setText("stat-p50", fmtMs(t.p50));
  setText("stat-p90", fmtMs(t.p90));
  setText("stat-p99", fmtMs(t.p99));
  const pts = s.timeline.points;
  const xs = pts.map((p) => toSeconds(p.t));
  const bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.6, 40] }) : undefined;
  drawChart(
    "chart-requests",
    [
      { label: "Requests", stroke: "#2563eb", fill: "rgba(37,99,235,0.35)", paths: bars },
      { label: "Errors (4xx/5xx)", stroke: "#dc2626", fill: "rgba(220,38,38,0.35)", paths: bars },
    ],
    [xs, pts.map((p) => Number(p.requests)), pts.map((p) => Number(p.errors))],
  );
  $("chart-requests").dataset.total = String(pts.reduce((a, p) => a + Number(p.requests), 0));
  drawChart(
    "chart-latency",
    [
      { label: "Average (ms)", stroke: "#059669", width: 2 },
      { label: "p95 (ms)", stroke: "#d97706", width: 2, dash: [6, 4] },
    ],
    [xs, pts.map((p) => Number(p.avg_response_time)), pts.map((p) => Number(p.p95))],
  );
  barList("endpoints", s.endpoints, (r) => `${r.method} ${r.path}`);
  makeEndpointsClickable(s.endpoints);
  renderActivity(s.activity);
  barList("response-times", s.response_times.filter((b) => Number(b.requests) > 0), bucketLabel);
  barList("devices", s.devices, (r) => r.name);
  barList("versions", s.versions, (r) => r.name);
  barList("status-codes", s.status_codes, (r) => String(r.status));
  barList("locations", s.locations, (r) => r.name || "Unknown");
  barList("browsers", s.browsers, (r) => r.name || "Unknown");
  barList("os", s.os, (r) => r.name || "Unknown");
  barList("users", s.users, (r) => r.name || "Anonymous");
  const select = $("hostname");
  const current = select.value;
  select.replaceChildren(new Option("All hostnames", ""));
  for (const h of s.hostnames) select.append(new Option(h, h));
  select.value = s.hostnames.includes(current) ? current : "";
}

// The chosen range, always visible: the dates asked for, or (none chosen) the span the data covers.
function renderRange(s, f) {
  const day = (iso) => (iso ? String(iso).slice(0, 10) : "");
  let text;
  if (f.dateFrom || f.dateTo) {
    text = `Showing ${f.dateFrom || "the first request"} to ${f.dateTo || "today"} (UTC)`;
  } else if (s.first) {
    text = `Showing all time: ${day(s.first)} to ${day(s.last)} (UTC)`;
  } else {
    text = "Showing all time";
  }
  if (f.hostname) text += ` on ${f.hostname}`;
  setText("range", text);
  $("range").dataset.from = f.dateFrom || day(s.first);
  $("range").dataset.to = f.dateTo || day(s.last);
  $("drill").hidden = !state.endpoint;
  if (state.endpoint) setText("drill-name", `${state.endpoint.method} ${state.endpoint.path}`);
  $("empty-hint").hidden = Number(s.totals.requests) > 0;
}

// Click an endpoint: everything on the page is filtered to it (click again, or "Show all", to undo).
function makeEndpointsClickable(rows) {
  const items = $("endpoints").querySelectorAll(".bar-row");
  items.forEach((el, i) => {
    const r = rows[i];
    // The label becomes a button (focusable, Enter and Space work); the whole row takes the click.
    const old = el.querySelector(".bar-label");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "bar-label drill-link";
    button.textContent = old.textContent;
    button.title = `Show only ${old.textContent}`;
    old.replaceWith(button);
    el.addEventListener("click", () => {
      const same = state.endpoint && state.endpoint.method === r.method && state.endpoint.path === r.path;
      state.endpoint = same ? null : { method: r.method, path: r.path };
      load();
    });
  });
}

function renderActivity(cells) {
  const table = $("activity");
  table.replaceChildren();
  const counts = new Map(cells.map((c) => [`${c.weekday}-${c.hour}`, Number(c.requests)]));
  const max = Math.max(1, ...counts.values());
  const head = document.createElement("tr");
  head.append(document.createElement("th"));
  for (let h = 0; h < 24; h++) {
    const th = document.createElement("th");
    th.textContent = h % 3 === 0 ? String(h) : "";
    head.append(th);
  }
  table.append(head);
  WEEKDAYS.forEach((name, i) => {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.textContent = name;
    tr.append(th);
    for (let h = 0; h < 24; h++) {
      const n = counts.get(`${i + 1}-${h}`) || 0;
      const td = document.createElement("td");
      td.dataset.weekday = String(i + 1);
      td.dataset.hour = String(h);
      td.dataset.count = String(n);
      td.title = `${name} ${String(h).padStart(2, "0")}:00: ${fmtInt(n)} requests`;
      if (n) td.style.background = `rgba(37, 99, 235, ${0.15 + (0.85 * n) / max})`;
      tr.append(td);
    }
    table.append(tr);
  });
  table.dataset.total = String(cells.reduce((a, c) => a + Number(c.requests), 0));
}

function bucketLabel(b) {
  return b.to_ms === null ? `${fmtInt(b.from_ms)} ms and over` : `${fmtInt(b.from_ms)}-${fmtInt(b.to_ms)} ms`;
}

// The raw requests: the data API's page (compact form) of what the page's filters and the explorer's
// own select, shown VIEW_ROWS at a time; past the end of a full page, the next one is fetched.
async function loadExplorer(page = 1) {
  const f = filters();
  const params = { ...f, compact: "true", page: String(page), status: $("x-status").value,
    location: $("x-location").value.trim().toUpperCase(), user_id: $("x-user").value.trim() };
  const [header, ...rows] = await api("/api/data", params, "GET", undefined, true);
  const x = state.explorer;
  x.header = header;
  x.rows = rows;
  x.page = page;
  x.view = 0;
  renderExplorer();
}

function renderExplorer() {
  const x = state.explorer;
  const col = Object.fromEntries(x.header.map((name, i) => [name, i]));
  const body = $("requests-table");
  body.replaceChildren();
  const shown = x.rows.slice(x.view * VIEW_ROWS, (x.view + 1) * VIEW_ROWS);
  for (const r of shown) {
    const tr = document.createElement("tr");
    const cells = [String(r[col.created_at]).replace("T", " ").slice(0, 19), r[col.method], r[col.path],
      String(r[col.status]), fmtMs(r[col.response_time]), r[col.hostname], r[col.ip_address], r[col.location],
      r[col.user_id], r[col.browser], r[col.os]];
    for (const c of cells) {
      const td = document.createElement("td");
      td.textContent = c === null || c === undefined ? "–" : String(c);
      tr.append(td);
    }
    body.append(tr);
  }
  $("requests-empty").hidden = x.rows.length > 0;
  const first = (x.page - 1) * DATA_PAGE + x.view * VIEW_ROWS;
  const more = x.rows.length === DATA_PAGE;
  setText("page-info", x.rows.length
    ? `Rows ${fmtInt(first + 1)}-${fmtInt(first + shown.length)} of ${fmtInt((x.page - 1) * DATA_PAGE + x.rows.length)}${more ? "+" : ""}`
    : "");
  $("page-info").dataset.view = String(x.view + 1);
  $("prev-page").disabled = x.view === 0 && x.page === 1;
  $("next-page").disabled = (x.view + 1) * VIEW_ROWS >= x.rows.length && !more;
}

function pageBy(step) {
  const x = state.explorer;
  const views = Math.ceil(x.rows.length / VIEW_ROWS);
  if (step > 0 && x.view + 1 >= views) {
    run(() => loadExplorer(x.page + 1));
  } else if (step < 0 && x.view === 0 && x.page > 1) {
    run(async () => {
      await loadExplorer(x.page - 1);
      x.view = Math.max(0, Math.ceil(x.rows.length / VIEW_ROWS) - 1);
      renderExplorer();
    });
  } else {
    x.view = Math.max(0, x.view + step);
    renderExplorer();
  }
}

async function run(task) {
  $("error").hidden = true;
  document.body.dataset.state = "loading";
  try {
    await task();
    document.body.dataset.state = "loaded";
  } catch (e) {
    showError(e);
  }
}

function renderUptime(monitors) {
  const table = $("uptime-table");
  table.replaceChildren();
  for (const m of monitors) {
    const tr = document.createElement("tr");
    tr.dataset.url = m.url;
    for (const text of [`${m.method} ${m.url}`, fmtPct(m.uptime), fmtMs(m.avg_response_time), fmtInt(m.checks)]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    const td = document.createElement("td");
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "link remove-monitor";
    remove.textContent = "Remove";
    remove.addEventListener("click", () => act(() => api(`/api/monitors/${encodeURIComponent(m.id)}`, {}, "DELETE")));
    td.append(remove);
    tr.append(td);
    table.append(tr);
  }
  $("uptime-empty").hidden = monitors.length > 0;
  const palette = ["#7c3aed", "#0891b2", "#ea580c", "#16a34a", "#db2777"];
  const series = monitors.map((m, i) => ({ label: m.url, stroke: palette[i % palette.length], width: 2, spanGaps: true }));
  drawChart("chart-uptime", series, monitorData(monitors, (p) => Number(p.avg_response_time)));
  drawChart(
    "chart-uptime-pct",
    series.map((s) => ({ ...s, value: (u, v) => (v === null || v === undefined ? "–" : `${v.toFixed(1)}%`) })),
    monitorData(monitors, (p) => Number(p.uptime) * 100),
    [0, 100],
  );
}

// One x (bucket start) per time any monitor has checks, and one y series per monitor (null where it had
// none), as uPlot wants aligned data.
function monitorData(monitors, value) {
  const times = new Set();
  for (const m of monitors) for (const p of m.points) times.add(toSeconds(p.t));
  const xs = [...times].sort((a, b) => a - b);
  const data = [xs];
  for (const m of monitors) {
    const byT = new Map(m.points.map((p) => [toSeconds(p.t), value(p)]));
    data.push(xs.map((x) => (byT.has(x) ? byT.get(x) : null)));
  }
  return data;
}

async function load(event) {
  if (event) event.preventDefault();
  const err = $("error");
  err.hidden = true;
  if (!apiKey()) {
    err.textContent = "Paste your API key first.";
    err.hidden = false;
    return;
  }
  sessionStorage.setItem(KEY_STORE, apiKey());
  document.body.dataset.state = "loading";
  try {
    const f = filters();
    const [stats, uptime] = await Promise.all([
      api("/api/stats", f),
      api("/api/uptime", { dateFrom: f.dateFrom, dateTo: f.dateTo }),
    ]);
    state.stats = stats;
    state.uptime = uptime;
    $("results").hidden = false;
    renderStats(stats);
    renderRange(stats, f);
    renderUptime(uptime);
    await loadExplorer(1);
    document.body.dataset.state = "loaded";
  } catch (e) {
    err.textContent = e.message;
    err.hidden = false;
    document.body.dataset.state = "error";
  }
}

function showError(e) {
  const err = $("error");
  err.textContent = e.message;
  err.hidden = false;
  document.body.dataset.state = "error";
}

// Run a change (create / delete) and reload what the page shows.
async function act(change) {
  $("error").hidden = true;
  document.body.dataset.state = "loading";
  try {
    await change();
  } catch (e) {
    showError(e);
    return;
  }
  await load();
}

function addMonitor(event) {
  event.preventDefault();
  const body = {
    url: $("monitor-url").value.trim(),
    method: $("monitor-method").value,
    expected_status: Number($("monitor-status").value || 200),
    interval_minutes: Number($("monitor-interval").value),
  };
  act(async () => {
    await api("/api/monitors", {}, "POST", body);
    $("monitor-url").value = "";
  });
}

function deleteAll() {
  if (!window.confirm("Delete every request and monitor result logged with this API key? This cannot be undone.")) {
    return;
  }
  act(() => api("/api/data", {}, "DELETE"));
}

window.addEventListener("DOMContentLoaded", () => {
  $("controls").addEventListener("submit", load);
  $("monitor-form").addEventListener("submit", addMonitor);
  $("delete-data").addEventListener("click", deleteAll);
  $("hostname").addEventListener("change", () => load());
  $("drill-clear").addEventListener("click", () => {
    state.endpoint = null;
    load();
  });
  $("explorer-form").addEventListener("submit", (e) => {
    e.preventDefault();
    run(() => loadExplorer(1));
  });
  $("prev-page").addEventListener("click", () => pageBy(-1));
  $("next-page").addEventListener("click", () => pageBy(1));
  const saved = sessionStorage.getItem(KEY_STORE);
  if (saved) {
    $("api-key").value = saved;
    load();
  } else {
    document.body.dataset.state = "ready";
  }
});
