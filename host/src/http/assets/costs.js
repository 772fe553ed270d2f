// wasmq dashboard: the two panels about load, the throughput chart and the
// per-plugin cost panel. Loaded after app.js and built on its helpers ($,
// el, api, apiHeaders, bytes, ago, state); app.js's init opens the live stream
// and its polling redraws the chart while the stream is down.
//
// The cost panel: what each plugin version's runs cost over the last hour
// (p50 / p95 / p99 of wall time, fuel and peak memory, from GET
// /api/v1/costs), read every COSTS_MS, and how the newest version compares
// with the one before it (p50 ratios; above 1 costs more). Every text from
// the API goes in with textContent.
"use strict";

// ---- throughput --------------------------------------------------------------

function renderThroughput(data) {
  const minutes = data.points || [];
  state.lastThroughput = minutes;
  const sum = (key) => minutes.reduce((a, m) => a + (m[key] || 0), 0);
  $("total-completed").textContent = sum("completed").toLocaleString();
  $("total-failed").textContent = sum("failed").toLocaleString();
  drawChart(minutes);
}

// Draws completed and failed per minute as two lines on a canvas sized to its
// CSS box (and to the device pixel ratio, so it stays sharp).
function drawChart(minutes) {
  const canvas = $("throughput-chart");
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 300;
  const height = canvas.clientHeight || 180;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);
  const pad = { left: 40, right: 8, top: 8, bottom: 20 };
  const w = width - pad.left - pad.right;
  const h = height - pad.top - pad.bottom;
  const max = Math.max(1, ...minutes.map((m) => Math.max(m.completed || 0, m.failed || 0)));
  const top = niceCeil(max);
  g.font = "11px system-ui, sans-serif";
  g.fillStyle = "#6b7280";
  g.strokeStyle = "#e3e6eb";
  g.lineWidth = 1;
  // As many grid lines as give whole-number labels (top is 1, 2 or 5 x 10^n).
  const ticks = [4, 5, 2, 1].find((t) => top % t === 0 && top >= t);
  for (let i = 0; i <= ticks; i++) {
    const y = pad.top + h - (h * i) / ticks;
    g.beginPath(); g.moveTo(pad.left, y); g.lineTo(pad.left + w, y); g.stroke();
    g.fillText(((top * i) / ticks).toLocaleString(), 4, y + 4);
  }
  if (minutes.length > 0) {
    const first = new Date(minutes[0].minute_ms);
    const last = new Date(minutes[minutes.length - 1].minute_ms);
    const hm = (d) => d.toTimeString().slice(0, 5);
    g.fillText(hm(first), pad.left, height - 4);
    const label = hm(last);
    g.fillText(label, pad.left + w - g.measureText(label).width, height - 4);
  }
  const x = (i) => pad.left + (minutes.length <= 1 ? w : (w * i) / (minutes.length - 1));
  const y = (v) => pad.top + h - (h * v) / top;
  for (const [key, color] of [["completed", "#1f9d55"], ["failed", "#d64545"]]) {
    g.strokeStyle = color;
    g.lineWidth = 2;
    g.beginPath();
    minutes.forEach((m, i) => (i === 0 ? g.moveTo(x(i), y(m[key] || 0)) : g.lineTo(x(i), y(m[key] || 0))));
    g.stroke();
  }
}

function niceCeil(n) {
  const step = Math.pow(10, Math.floor(Math.log10(n)));
  for (const m of [1, 2, 5, 10]) if (m * step >= n) return m * step;
  return 10 * step;
}

// The throughput chart over Server-Sent Events: redrawn when tasks finish.
// The stream is read with fetch, not EventSource, because EventSource
// cannot send the token and a server may protect reads. While the stream
// is down (refused, unreachable, ended) the chart is polled with the other
// panels, and the stream is tried again after LIVE_RETRY_MS; saving a
// token opens it again at once.
const LIVE_RETRY_MS = 15000;

async function openLive() {
  if (!window.ReadableStream || !window.AbortController) return;
  if (state.liveAbort) state.liveAbort.abort();
  const abort = new AbortController();
  state.liveAbort = abort;
  try {
    const headers = apiHeaders({ Accept: "text/event-stream" });
    const response = await fetch(`${API}/stats/throughput/stream?minutes=60`,
      { headers, signal: abort.signal, cache: "no-store" });
    if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
    await readEvents(response.body, (name, data) => {
      if (name !== "throughput" || state.liveAbort !== abort) return;
      state.live = true;
      document.body.dataset.throughput = "live";
      renderThroughput(JSON.parse(data));
    });
  } catch (_) {
    // Refused, unreachable, broken or replaced: polling takes over below.
  }
  if (state.liveAbort !== abort) return;
  state.liveAbort = null;
  state.live = false;
  document.body.dataset.throughput = "polled";
  setTimeout(() => { if (!state.liveAbort) openLive(); }, LIVE_RETRY_MS);
}

// Calls onEvent(name, data) for each event of a text/event-stream body,
// until the body ends.
async function readEvents(body, onEvent) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
      let name = "message";
      const data = [];
      for (const line of block.split(/\r?\n/)) {
        const at = line.indexOf(":");
        if (at === 0) continue; // a comment (keep-alive)
        const field = at < 0 ? line : line.slice(0, at);
        const text = at < 0 ? "" : line.slice(at + 1).replace(/^ /, "");
        if (field === "event") name = text;
        else if (field === "data") data.push(text);
      }
      if (data.length) onEvent(name, data.join("\n"));
    }
  }
}

// ---- cost --------------------------------------------------------------------


const COSTS_MS = 10000;

function triple(q, format) {
  return `${format(q.p50)} / ${format(q.p95)} / ${format(q.p99)}`;
}

function ratioText(r) {
  if (r === null || r === undefined) return "—";
  const pct = Math.round((r - 1) * 100);
  return pct === 0 ? "same" : `${pct > 0 ? "+" : ""}${pct}%`;
}

function renderCosts(data) {
  const rows = [];
  for (const t of data.task_types || []) {
    t.versions.forEach((v, i) => {
      const change = i === 0 && t.change ? t.change : null;
      rows.push(el("tr", { "data-testid": `cost-${t.task_type}-${v.version}` }, [
        el("td", {}, [el("code", { text: t.task_type })]),
        el("td", {}, [el("code", { text: v.version })]),
        el("td", { class: "num", text: v.runs.toLocaleString() }),
        el("td", { class: "num", text: triple(v.wall_ms, (n) => `${n} ms`) }),
        el("td", { class: "num", text: triple(v.fuel, (n) => n.toLocaleString()) }),
        el("td", { class: "num", text: triple(v.peak_memory_bytes, bytes) }),
        el("td", {
          class: "num", "data-testid": change ? `cost-change-${t.task_type}` : undefined,
          title: change ? `p50 of ${change.to} against ${change.from}: wall, fuel, memory` : undefined,
          text: change
            ? `vs ${change.from}: ${ratioText(change.wall_ms_p50)}, ${ratioText(change.fuel_p50)}, ${ratioText(change.peak_memory_p50)}`
            : "",
        }),
      ]));
    });
  }
  $("costs-table").tBodies[0].replaceChildren(...rows);
  $("costs-empty").hidden = rows.length > 0;
  const unread = data.queues_not_read || 0;
  $("costs-more").hidden = unread === 0;
  $("costs-more").textContent = `${unread} more queues not read here (a request reads at most 500): ` +
    "ask GET /api/v1/costs?queue=NAME for one.";
}

async function refreshCosts() {
  try {
    renderCosts(await api("costs"));
  } catch (e) {
    $("costs-empty").hidden = false;
    $("costs-empty").textContent = `Costs: ${e.message}`;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  refreshCosts();
  setInterval(refreshCosts, COSTS_MS);
});
