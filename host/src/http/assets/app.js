// wasmq dashboard. Plain JavaScript, no build step, no dependencies: it polls
// the JSON API every POLL_MS and redraws (the throughput chart, in
// costs.js, listens to a live stream instead). Everything that comes from the API
// (queue names, plugin errors, task ids) is untrusted text, so the DOM is
// built with textContent only, never parsed as HTML markup.
"use strict";

const POLL_MS = 1500;
const TOKEN_KEY = "wasmq.token";
const API = "/api/v1";

const state = { busy: false, authRequired: false, lastThroughput: null, live: false, liveAbort: null };

// ---- tiny DOM helpers ------------------------------------------------------

function $(id) { return document.getElementById(id); }

function el(tag, props, children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null) continue;
    if (key === "text") node.textContent = String(value);
    else if (key === "class") node.className = value;
    else if (key === "onclick") node.addEventListener("click", value);
    else node.setAttribute(key, String(value));
  }
  for (const child of children || []) node.append(child);
  return node;
}

function num(n) { return el("td", { class: "num", text: (n ?? 0).toLocaleString() }); }

function ago(ms, nowMs) {
  if (!ms) return "never";
  const s = Math.max(0, Math.round(((nowMs || Date.now()) - ms) / 1000));
  if (s < 90) return `${s}s ago`;
  if (s < 5400) return `${Math.round(s / 60)}m ago`;
  return `${Math.round(s / 3600)}h ago`;
}

function isoTime(ms) { return ms ? new Date(ms).toISOString() : ""; }

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${Number.isInteger(n) ? n : n.toFixed(1)} ${units[i]}`;
}

function millis(ms) { return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`; }

function showMessage(text, kind) {
  const box = $("message");
  box.textContent = text;
  box.className = "message" + (kind === "info" ? " info" : "");
  box.hidden = false;
  clearTimeout(showMessage.timer);
  showMessage.timer = setTimeout(() => { box.hidden = true; }, kind === "info" ? 4000 : 10000);
}

// ---- API -------------------------------------------------------------------

function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

// Every call says it is an API call (X-Wasmq-Request): the server refuses
// changes without it or a JSON body, which is what stops other web pages
// from posting plain forms to it. The token, once entered, goes with every
// call, because a server may protect reads too.
function apiHeaders(headers) {
  const out = Object.assign({ "X-Wasmq-Request": "1" }, headers || {});
  if (token()) out.Authorization = "Bearer " + token();
  return out;
}

async function api(path, options) {
  const opts = Object.assign({ method: "GET" }, options || {});
  opts.headers = apiHeaders(opts.headers);
  if (opts.body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(opts.body);
  }
  const response = await fetch(path.startsWith("/") ? path : `${API}/${path}`, opts);
  let body = null;
  try { body = await response.json(); } catch (_) { body = null; }
  if (response.status === 401) askForToken();
  if (!response.ok) {
    const why = body && body.error ? body.error : `HTTP ${response.status}`;
    const err = new Error(why);
    err.status = response.status;
    throw err;
  }
  return body;
}

// Runs a mutating action and reports its outcome, then refreshes at once.
async function act(label, path, body) {
  try {
    const result = (await api(path, { method: "POST", body })) || {};
    const count = result.requeued ?? result.purged;
    showMessage(`${label}: done` + (count !== undefined ? ` (${count})` : ""), "info");
  } catch (e) {
    showMessage(`${label} failed: ${e.message}`);
  }
  refresh();
}

function askForToken() {
  state.authRequired = true;
  $("token-form").hidden = false;
  $("token-input").focus();
}

// ---- rendering -------------------------------------------------------------

function renderQueues(data) {
  const body = $("queues-table").tBodies[0];
  const rows = (data.queues || []).map((q) => {
    const s = q.sizes || {};
    const c = q.counters || {};
    const toggle = q.paused
      ? el("button", { "data-testid": `resume-${q.name}`, text: "Resume",
          onclick: () => act(`Resume ${q.name}`, `queues/${encodeURIComponent(q.name)}/resume`) })
      : el("button", { "data-testid": `pause-${q.name}`, class: "danger", text: "Pause",
          onclick: () => act(`Pause ${q.name}`, `queues/${encodeURIComponent(q.name)}/pause`) });
    return el("tr", { "data-queue": q.name, "data-testid": `queue-${q.name}` }, [
      el("td", {}, [el("code", { text: q.name })]),
      browseCell(q.name, "pending", s.pending), browseCell(q.name, "scheduled", s.scheduled),
      num(s.waiting), browseCell(q.name, "active", s.active), browseCell(q.name, "retry", s.retry_wait),
      browseCell(q.name, "dead", s.dead), browseCell(q.name, "completed", c.completed), num(c.failed),
      el("td", {}, [q.paused
        ? el("span", { class: "badge warn", "data-testid": `paused-${q.name}`, text: "paused" })
        : el("span", { class: "badge ok", text: "running" })]),
      el("td", { class: "actions" }, [toggle]),
    ]);
  });
  body.replaceChildren(...rows);
  $("queues-empty").hidden = rows.length > 0;
}

// Schedules with their next fire; pause/resume like queues.
function renderSchedules(data) {
  const body = $("schedules-table").tBodies[0];
  const rows = (data.schedules || []).map((s) => {
    const path = `schedules/${encodeURIComponent(s.name)}`;
    const toggle = s.paused
      ? el("button", { "data-testid": `resume-schedule-${s.name}`, text: "Resume",
          onclick: () => act(`Resume schedule ${s.name}`, `${path}/resume`) })
      : el("button", { "data-testid": `pause-schedule-${s.name}`, class: "danger", text: "Pause",
          onclick: () => act(`Pause schedule ${s.name}`, `${path}/pause`) });
    const next = s.next_fire_ms
      ? el("td", { "data-testid": `next-fire-${s.name}`, "data-ms": String(s.next_fire_ms),
          text: isoTime(s.next_fire_ms) })
      : el("td", { "data-testid": `next-fire-${s.name}`, class: "muted", text: "—" });
    return el("tr", { "data-testid": `schedule-${s.name}` }, [
      el("td", {}, [el("code", { text: s.name })]),
      el("td", {}, [el("code", { text: s.cron })]),
      el("td", { text: s.tz }), el("td", { text: s.type }), next, num(s.fires),
      el("td", {}, [s.paused
        ? el("span", { class: "badge warn", text: "paused" })
        : el("span", { class: "badge ok", text: "running" })]),
      el("td", { class: "actions" }, [toggle]),
    ]);
  });
  body.replaceChildren(...rows);
  $("schedules-empty").hidden = rows.length > 0;
}

function renderDead(data) {
  const body = $("dead-table").tBodies[0];
  const rows = (data.tasks || []).map((t) => el("tr", { "data-task-id": t.id }, [
    el("td", {}, [pageLink(taskHash(t.id), { "data-testid": `dead-open-${t.id}` }, [el("code", { text: t.id })])]),
    el("td", { class: "error", text: t.error || t.reason || "(no error recorded)" }),
    num(t.attempts),
    el("td", { text: ago(t.died_at_ms, data.now_ms), title: isoTime(t.died_at_ms) }),
    el("td", { class: "actions" }, [
      el("button", { "data-testid": `retry-${t.id}`, text: "Retry",
        onclick: () => act(`Retry ${t.id}`, "dead/retry", { queue: t.queue, id: t.id }) }),
      el("button", { "data-testid": `purge-${t.id}`, class: "danger", text: "Purge",
        onclick: () => act(`Purge ${t.id}`, "dead/purge", { queue: t.queue, id: t.id }) }),
    ]),
  ]));
  body.replaceChildren(...rows);
  $("dead-empty").hidden = rows.length > 0;
  const total = data.total || 0;
  $("dead-total").textContent = total > rows.length ? `showing ${rows.length} of ${total}` : `${total}`;
}

function renderHosts(data) {
  const body = $("hosts-table").tBodies[0];
  const rows = (data.hosts || []).map((h) => {
    const age = (data.now_ms || Date.now()) - (h.last_heartbeat_ms || 0);
    const badge = age > 30000 ? "badge bad" : "badge ok";
    return el("tr", { "data-host-id": h.id }, [
      el("td", { title: `pid ${h.pid}, wasmq ${h.version}, up since ${isoTime(h.started_at_ms)}` },
        [el("code", { text: h.hostname ? `${h.hostname} (${h.id.slice(0, 8)})` : h.id })]),
      el("td", { text: (h.plugins || []).join(", ") || "—" }),
      num(h.in_flight), num(h.processed),
      el("td", {}, [el("span", { class: badge, text: ago(h.last_heartbeat_ms, data.now_ms) })]),
    ]);
  });
  body.replaceChildren(...rows);
  $("hosts-empty").hidden = rows.length > 0;
}

function renderPlugins(data) {
  const body = $("plugins-table").tBodies[0];
  const rows = (data.plugins || []).map((p) => {
    const l = p.limits;
    const limits = l ? `fuel ${l.fuel.toLocaleString()}, ${millis(l.timeout_ms)}, ${bytes(l.memory_bytes)}` : "—";
    const status = p.error
      ? el("span", { class: "badge bad", text: p.serving ? "error (old version serves)" : "error" })
      : el("span", { class: "badge ok", text: "serving" });
    const g = p.grants || {};
    const grants = [["http", g.http], ["kv", g.kv], ["enqueue", g.enqueue], ["config", g.config], ["secrets", g.secrets]]
      .filter(([, names]) => names && names.length)
      .map(([what, names]) => `${what}: ${names.join(", ")}`)
      .join(" · ") || "—";
    const cells = [
      el("td", {}, [el("code", { text: p.task_type })]),
      el("td", {}, [el("code", { text: (p.pushed_version ? `v${p.pushed_version}:` : "") + (p.version || "—") }), el("span", { class: "muted", text: p.kind ? ` ${p.kind}` : "" })]),
      el("td", { text: limits }),
      el("td", { class: "grants", text: grants }),
      el("td", {}, [status]),
    ];
    const row = el("tr", { "data-plugin": p.task_type }, cells);
    if (!p.error) return [row];
    return [row, el("tr", { class: "plugin-error" }, [el("td", { class: "error", colspan: 5, text: p.error })])];
  }).flat();
  body.replaceChildren(...rows);
  $("plugins-empty").hidden = rows.length > 0;
  $("plugins-empty").textContent = data.available === false
    ? "This API server runs without a plugin directory." : "No plugins loaded.";
}

async function renderStatus() {
  const pill = $("status");
  try {
    const response = await fetch("/readyz");
    const body = await response.json();
    const failing = Object.entries(body.checks || {}).filter(([, c]) => !c.ok);
    pill.textContent = response.ok ? "ready" : "not ready";
    pill.className = "pill " + (response.ok ? "ok" : "bad");
    pill.title = failing.map(([name, c]) => `${name}: ${c.detail}`).join("\n");
  } catch (e) {
    pill.textContent = "unreachable";
    pill.className = "pill bad";
    pill.title = e.message;
  }
}

// ---- polling ---------------------------------------------------------------

async function refresh() {
  if (state.busy) return;
  state.busy = true;
  const parts = [
    ["queues", renderQueues], ["dead?limit=50", renderDead], ["hosts", renderHosts],
    ["plugins", renderPlugins], ["schedules", renderSchedules],
  ];
  // The chart comes from the live stream while it is open.
  if (!state.live) parts.push(["stats/throughput?minutes=60", renderThroughput]);
  try {
    const results = await Promise.allSettled(parts.map(([path]) => api(path)));
    const failures = [];
    results.forEach((r, i) => {
      if (r.status === "fulfilled") parts[i][1](r.value);
      else failures.push(`${parts[i][0]}: ${r.reason.message}`);
    });
    if (failures.length) showMessage(failures[0]);
    await renderStatus();
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
    document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
  } finally {
    state.busy = false;
  }
}

async function lookup(event) {
  event.preventDefault();
  const id = $("lookup-input").value.trim();
  const out = $("lookup-result");
  out.hidden = false;
  $("lookup-open").hidden = true;
  if (!id) { out.textContent = "Enter a task id such as email:1a."; return; }
  try {
    const status = await api(`tasks/${encodeURIComponent(id)}`);
    let text = JSON.stringify(status, null, 2);
    if (status.state === "completed") {
      const result = await api(`tasks/${encodeURIComponent(id)}/result`);
      text += "\n\nresult:\n" + JSON.stringify(result, null, 2);
    }
    out.textContent = text;
    // Its page has its attempts, cost and logs (tasks.js routes the address).
    $("lookup-open").href = taskHash(status.id);
    $("lookup-open").hidden = false;
  } catch (e) {
    out.textContent = e.message;
  }
}

async function init() {
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token-input").value.trim());
    $("token-input").value = "";
    $("token-form").hidden = true;
    showMessage("Token saved for this browser tab.", "info");
    refresh();
    route();
    openLive();
  });
  $("lookup-form").addEventListener("submit", lookup);
  window.addEventListener("resize", () => state.lastThroughput && drawChart(state.lastThroughput));
  try {
    const info = await api("info");
    state.authRequired = !!info.auth_required;
    if (state.authRequired && !token()) $("token-form").hidden = false;
  } catch (e) {
    showMessage(`Cannot reach the API: ${e.message}`);
  }
  openLive();
  await refresh();
  setInterval(refresh, POLL_MS);
}

document.addEventListener("DOMContentLoaded", init);
