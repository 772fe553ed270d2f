// wasmq dashboard: one task in detail, the view at #/tasks/<queue>:<id>
// (tasks.js routes addresses). Loaded after app.js and tasks.js and built
// on their helpers ($, el, api, ago, isoTime, bytes, showMessage, refresh,
// STATE_ACTIONS, go). A task opened from the browser or the dead tasks
// panel shows its status, its progress, every kept attempt with
// its start, end, outcome, error, fuel, peak memory, wall time and plugin
// version, each attempt's log, and the output of a completed task; its
// actions are the browser's for its state. A running task's detail reloads
// every two seconds, so its progress moves as the plugin reports it. All text goes in with
// textContent.
"use strict";

// `seq` numbers the loads, so a slow answer for a task already left is dropped.
const detail = { id: null, seq: 0, timer: null };
// A running task's detail reloads this often, for its live progress.
const ACTIVE_RELOAD_MS = 2000;

// The browser's state name for a task state.
function browseName(state) { return state === "retry-wait" ? "retry" : state; }

async function openTask(id) {
  detail.id = id;
  $("detail-card").hidden = false;
  await loadDetail();
  $("detail-card").scrollIntoView({ block: "start" });
}

async function loadDetail() {
  const id = detail.id;
  const seq = ++detail.seq;
  const path = `tasks/${encodeURIComponent(id)}`;
  try {
    const [status, runs] = await Promise.all([api(path), api(`${path}/runs`)]);
    const result = status.state === "completed" ? await api(`${path}/result`).catch(() => null) : null;
    if (seq !== detail.seq) return;
    renderDetail(status, runs, result);
    followWhileActive(id, status.state);
  } catch (e) {
    if (seq !== detail.seq) return;
    $("detail-title").textContent = id;
    $("detail-body").replaceChildren(el("p", { class: "error", "data-testid": "detail-problem",
      text: `Cannot show task ${id}: ${e.message}` }));
  }
}

// While the open task runs, reload it every ACTIVE_RELOAD_MS (its progress
// is kept as it runs); stops once it settles, is closed or another opens.
function followWhileActive(id, state) {
  clearTimeout(detail.timer);
  if (state !== "active") return;
  detail.timer = setTimeout(() => {
    if (detail.id !== id || $("detail-card").hidden) return;
    if (document.hidden) followWhileActive(id, state);
    else loadDetail();
  }, ACTIVE_RELOAD_MS);
}

function field(label, value, testid) {
  if (value === undefined || value === null || value === "") return null;
  return el("div", { class: "field" }, [
    el("span", { class: "muted", text: `${label}: ` }),
    el("span", { "data-testid": testid, text: String(value) }),
  ]);
}

function renderDetail(s, runs, result) {
  $("detail-title").textContent = s.id;
  const now = Date.now();
  const fields = [
    field("state", s.state, "detail-state"),
    field("attempts", s.max_attempts ? `${s.attempts} of ${s.max_attempts}` : s.attempts, "detail-attempts"),
    field("priority", s.priority),
    field("enqueued", s.enqueued_at_ms && `${isoTime(s.enqueued_at_ms)} (${ago(s.enqueued_at_ms, now)})`),
    field("due", s.due_at_ms && isoTime(s.due_at_ms)),
    field("finished", s.finished_at_ms && isoTime(s.finished_at_ms)),
    field("plugin", s.plugin_version),
    field("dead reason", s.dead_reason),
    field("last error", s.last_error, "detail-error"),
    runs.progress && field("progress", `${runs.progress.percent}% ${runs.progress.note}`, "detail-progress"),
  ].filter(Boolean);
  const actions = (STATE_ACTIONS[browseName(s.state)] || []).map((a) => el("button", {
    "data-testid": `detail-${a}`, class: a === "delete" || a === "cancel" ? "danger" : "", text: a,
    onclick: () => detailAction(a, browseName(s.state)),
  }));
  const rows = (runs.attempts || []).map((a) => el("tr", { "data-testid": `attempt-${a.attempt}` }, [
    el("td", { class: "num", text: a.attempt }),
    el("td", { text: isoTime(a.started_at_ms) }),
    el("td", { text: isoTime(a.finished_at_ms) }),
    el("td", {}, [el("span", { class: a.outcome === "success" ? "badge ok" : "badge bad", text: a.outcome })]),
    el("td", { class: "num", "data-testid": `attempt-${a.attempt}-wall`, text: a.wall_ms ?? "—" }),
    el("td", { class: "num", "data-testid": `attempt-${a.attempt}-fuel`, text: a.fuel_used != null ? a.fuel_used.toLocaleString() : "—" }),
    el("td", { class: "num", "data-testid": `attempt-${a.attempt}-memory`, text: a.peak_memory_bytes != null ? bytes(a.peak_memory_bytes) : "—" }),
    el("td", {}, [el("code", { text: a.plugin_version || "—" })]),
    el("td", { class: "error", text: a.error || "" }),
  ]));
  const table = el("table", { "data-testid": "attempts-table" }, [
    el("thead", {}, [el("tr", {}, ["#", "Started", "Finished", "Outcome", "Wall ms", "Fuel", "Peak memory", "Plugin", "Error"]
      .map((h) => el("th", { text: h })))]),
    el("tbody", {}, rows),
  ]);
  const logs = (runs.attempts || []).filter((a) => a.log).map((a) => el("div", {}, [
    el("h3", { text: `Log of attempt ${a.attempt}` }),
    el("pre", { class: "log", "data-testid": `log-${a.attempt}`, text: a.log }),
  ]));
  const parts = [
    el("div", { class: "fields" }, fields),
    el("div", { class: "bulk" }, actions),
    el("h3", { text: "Attempts" }),
    rows.length ? el("div", { class: "table-wrap" }, [table])
      : el("p", { class: "muted", text: "No attempt recorded yet (it has not run, or its history expired)." }),
    ...logs,
  ];
  if (result) {
    const text = result.output_text ?? (result.output !== null ? JSON.stringify(result.output, null, 2) : `base64:${result.output_b64}`);
    parts.push(el("h3", { text: "Output" }), el("pre", { class: "log", "data-testid": "detail-output", text }));
  }
  $("detail-body").replaceChildren(...parts);
}

async function detailAction(action, state) {
  const id = detail.id;
  const queue = id.slice(0, id.indexOf(":"));
  try {
    const r = await api(`queues/${encodeURIComponent(queue)}/tasks/actions`,
      { method: "POST", body: { action, state, ids: [id] } });
    showMessage(`${action} ${id}: ${r.done ? "done" : "skipped (it had moved on)"}`, "info");
  } catch (e) {
    showMessage(`${action} ${id} failed: ${e.message}`);
  }
  await loadDetail();
  refresh();
}

document.addEventListener("DOMContentLoaded", () => {
  $("detail-reload").addEventListener("click", loadDetail);
  $("detail-close").addEventListener("click", () => go("#/"));
});
