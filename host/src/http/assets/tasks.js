// wasmq dashboard: the task browser. Loaded after app.js and built on its
// helpers ($, el, api, ago, showMessage, refresh). A click on a queue's
// count opens that queue's tasks in that state, a page at a time (the
// API's cursor), with per-task actions and bulk actions on the checked rows
// or on every task of the state. Bulk "all" actions ask for a second click
// instead of a confirm() dialog, which would block the page. The page keeps
// its selection between polls: it reloads only when asked or after an
// action. Every text from the API goes in with textContent.
"use strict";

const BROWSE_STATES = ["pending", "scheduled", "active", "retry", "dead", "completed"];
const BROWSE_LIMIT = 50;
// The actions each state offers, in button order.
const STATE_ACTIONS = {
  pending: ["cancel", "delete"],
  scheduled: ["promote", "cancel", "delete"],
  active: ["cancel"],
  retry: ["retry", "cancel", "delete"],
  dead: ["retry", "delete"],
  completed: [],
};

const browser = { queue: null, state: null, cursors: [null], page: null, armed: null };

// A count in the queues table that opens the browser on that state.
function browseCell(queue, state, n) {
  const button = el("button", {
    class: "link", "data-testid": `browse-${queue}-${state}`, title: `Browse the ${state} tasks`,
    text: (n ?? 0).toLocaleString(),
    onclick: () => openBrowser(queue, state),
  });
  return el("td", { class: "num" }, [button]);
}

function openBrowser(queue, state) {
  Object.assign(browser, { queue, state, cursors: [null], armed: null });
  $("tasks-card").hidden = false;
  loadPage();
  $("tasks-card").scrollIntoView({ block: "start" });
}

function taskPath() {
  return `queues/${encodeURIComponent(browser.queue)}/tasks`;
}

async function loadPage() {
  const cursor = browser.cursors[browser.cursors.length - 1];
  const query = new URLSearchParams({ state: browser.state, limit: String(BROWSE_LIMIT) });
  if (cursor) query.set("cursor", cursor);
  try {
    browser.page = await api(`${taskPath()}?${query}`);
    renderBrowser();
  } catch (e) {
    showMessage(`Tasks of ${browser.queue}: ${e.message}`);
  }
}

function previewText(p) {
  if (!p) return "—";
  if (p.encrypted) return `encrypted (${p.size} bytes)`;
  if (p.encoding === "base64") return `base64:${p.data}${p.truncated ? "…" : ""}`;
  return p.data + (p.truncated ? "…" : "");
}

function renderBrowser() {
  const page = browser.page;
  $("tasks-title").textContent = `${browser.queue} · ${browser.state}`;
  $("tasks-tabs").replaceChildren(...BROWSE_STATES.map((s) => el("button", {
    class: s === browser.state ? "tab active" : "tab", "data-testid": `tab-${s}`, text: s,
    onclick: () => openBrowser(browser.queue, s),
  })));
  const actions = STATE_ACTIONS[browser.state] || [];
  const rows = (page.tasks || []).map((t) => el("tr", { "data-task-id": t.id, "data-testid": `task-row-${t.id}` }, [
    el("td", {}, [el("input", { type: "checkbox", class: "pick", "data-id": t.id, "aria-label": `select ${t.id}` })]),
    el("td", {}, [el("button", { class: "link", "data-testid": `open-${t.id}`, text: t.id,
      onclick: () => openTask(t.id) })]),
    el("td", { text: t.enqueued_at_ms ? ago(t.enqueued_at_ms, page.now_ms) : "—" }),
    el("td", { class: "num", text: t.max_attempts ? `${t.attempts}/${t.max_attempts}` : String(t.attempts) }),
    el("td", { class: "error", text: t.last_error || t.reason || "" }),
    el("td", {}, [el("code", { class: "preview", text: previewText(t.payload || t.output) })]),
    el("td", { class: "actions" }, actions.map((a) => el("button", {
      "data-testid": `${a}-task-${t.id}`, class: a === "delete" || a === "cancel" ? "danger" : "",
      text: a, onclick: () => runAction(a, { ids: [t.id] }, `${a} ${t.id}`),
    }))),
  ]));
  $("tasks-table").tBodies[0].replaceChildren(...rows);
  $("tasks-empty").hidden = rows.length > 0;
  const total = page.total != null ? ` of ${page.total}` : "";
  $("tasks-count").textContent = `${rows.length} shown${total}`;
  $("tasks-bulk").replaceChildren(
    ...actions.map((a) => el("button", { "data-testid": `bulk-${a}`, text: `${a} selected`,
      onclick: () => {
        const ids = [...document.querySelectorAll("#tasks-table .pick:checked")].map((c) => c.dataset.id);
        if (!ids.length) { showMessage("Select tasks first (the boxes on the left)."); return; }
        runAction(a, { ids }, `${a} ${ids.length} task(s)`);
      } })),
    ...actions.map((a) => {
      const armed = browser.armed === a;
      return el("button", { "data-testid": `all-${a}`, class: armed ? "danger" : "",
        text: armed ? `click again: ${a} ALL ${browser.state}` : `${a} all ${browser.state}`,
        onclick: () => {
          if (!armed) { browser.armed = a; renderBrowser(); return; }
          runAction(a, { all: true }, `${a} all ${browser.state} tasks of ${browser.queue}`);
        } });
    }),
  );
  $("tasks-prev").disabled = browser.cursors.length <= 1;
  $("tasks-next").disabled = !page.next_cursor;
}

async function runAction(action, which, label) {
  browser.armed = null;
  try {
    const body = Object.assign({ action, state: browser.state }, which);
    const r = await api(`${taskPath()}/actions`, { method: "POST", body });
    showMessage(`${label}: ${r.done} done` + (r.skipped ? `, ${r.skipped} skipped` : ""), "info");
  } catch (e) {
    showMessage(`${label} failed: ${e.message}`);
  }
  browser.cursors = [null];
  await loadPage();
  refresh();
}

function initBrowser() {
  $("tasks-next").addEventListener("click", () => {
    if (!browser.page || !browser.page.next_cursor) return;
    browser.cursors.push(browser.page.next_cursor);
    loadPage();
  });
  $("tasks-prev").addEventListener("click", () => {
    if (browser.cursors.length > 1) browser.cursors.pop();
    loadPage();
  });
  $("tasks-reload").addEventListener("click", loadPage);
  $("tasks-close").addEventListener("click", () => { $("tasks-card").hidden = true; });
  $("tasks-all").addEventListener("change", (event) => {
    for (const c of document.querySelectorAll("#tasks-table .pick")) c.checked = event.target.checked;
  });
}

document.addEventListener("DOMContentLoaded", initBrowser);

