// wasmq dashboard: the per-plugin cost panel. Loaded after app.js and built
// on its helpers ($, el, api, bytes, ago). What each plugin version's runs
// cost over the last hour (p50 / p95 / p99 of wall time, fuel and peak
// memory, from GET /api/v1/costs), read every COSTS_MS, and how the newest
// version compares with the one before it (p50 ratios; above 1 costs more).
// Every text from the API goes in with textContent.
"use strict";

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
