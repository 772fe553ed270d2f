// wasmq dashboard: the task browser, and the addresses of its views.
// Loaded after app.js and built on its helpers ($, el, api, ago,
// showMessage, refresh). A click on a queue's count opens that queue's
// tasks in that state, a page at a time (the API's cursor), with per-task
// actions and bulk actions on the checked rows or on every task of the
// state. Bulk "all" actions ask for a second click instead of a confirm()
// dialog, which would block the page. The page keeps its selection between
// polls: it reloads only when asked or after an action. Every text from the
// API goes in with textContent.
//
// Each view has an address in the URL's fragment, so it can be linked,
// bookmarked, reloaded and reached with the back button:
//   #/queues/<queue>/<state>[?cursor=<cursor>]  a page of the task browser
//   #/tasks/<queue>:<id>                        one task (detail.js)
//   #/ or nothing                               the overview alone
// Opening a view only sets the address; the address (on load, and on every
// change, back and forward included) opens the view, so both ways in end
// up in the same place. The fragment never reaches the server, so the page
// itself says what is wrong with an address it cannot open.
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

// `seq` numbers the page loads, so a slow answer for a view already left is dropped.
const browser = { queue: null, state: null, cursors: [null], page: null, armed: null, seq: 0 };

// A count in the queues table: a link to the browser on that state.
function browseCell(queue, state, n) {
  return el("td", { class: "num" }, [pageLink(browseHash(queue, state), {
    "data-testid": `browse-${queue}-${state}`, title: `Browse the ${state} tasks`,
    text: (n ?? 0).toLocaleString(),
  })]);
}

// ---- addresses ---------------------------------------------------------------

// A path segment of an address: escaped, but a task id's colon kept readable.
function segment(text) { return encodeURIComponent(text).replace(/%3A/gi, ":"); }

function browseHash(queue, state, cursor) {
  const base = `#/queues/${segment(queue)}/${segment(state)}`;
  return cursor ? `${base}?cursor=${encodeURIComponent(cursor)}` : base;
}

function taskHash(id) { return `#/tasks/${segment(id)}`; }

// An <a> to a view. A click on the view already shown reloads it (the
// address does not change, so no hashchange would).
function pageLink(hash, props, children) {
  const link = el("a", Object.assign({ class: "link", href: hash }, props), children);
  link.addEventListener("click", (event) => {
    if (location.hash !== hash) return;
    event.preventDefault();
    route();
  });
  return link;
}

// Opens a view by its address: a new history entry, or a reload if shown.
function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

const ADDRESS_HELP = "the dashboard's addresses are #/queues/<queue>/<state> and " +
  "#/tasks/<queue>:<id>; follow a count in the Queues table to get one";

// What an address asks for: { view: "overview" | "queue" | "task", ... } or
// { error } saying what is wrong with it.
function parseRoute(hash) {
  const text = hash.replace(/^#/, "");
  const at = text.indexOf("?");
  const path = at < 0 ? text : text.slice(0, at);
  const query = new URLSearchParams(at < 0 ? "" : text.slice(at + 1));
  let parts;
  try {
    parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  } catch (_) {
    return { error: `The address ${hash} is not validly escaped: ${ADDRESS_HELP}.` };
  }
  if (parts.length === 0) return { view: "overview" };
  if (parts[0] === "queues" && parts.length === 3) {
    const [, queue, state] = parts;
    if (!BROWSE_STATES.includes(state)) {
      return { error: `The address names the state "${state}", which the task browser does not ` +
        `have: use one of ${BROWSE_STATES.join(", ")} (e.g. ${browseHash(queue, "dead")}).` };
    }
    return { view: "queue", queue, state, cursor: query.get("cursor") || null };
  }
  if (parts[0] === "tasks" && parts.length === 2) {
    if (!parts[1].includes(":")) {
      return { error: `The address names the task "${parts[1]}", which is not a task id: ` +
        `a task id is <queue>:<id>, e.g. #/tasks/email:1a.` };
    }
    return { view: "task", id: parts[1] };
  }
  return { error: `There is no page at ${hash}: ${ADDRESS_HELP}.` };
}

// Shows the view the address asks for (and only it), or what is wrong.
function route() {
  const r = parseRoute(location.hash);
  $("route-error").textContent = r.error || "";
  $("route-error").hidden = !r.error;
  $("tasks-card").hidden = r.view !== "queue";
  $("detail-card").hidden = r.view !== "task";
  if (r.view === "queue") openBrowser(r.queue, r.state, r.cursor);
  else if (r.view === "task") openTask(r.id);
  else if (r.error) $("route-error").scrollIntoView({ block: "start" });
}

// ---- the browser -------------------------------------------------------------

// Shows a page of `state` tasks of `queue`, from `cursor` (null: the first).
// The cursors of the pages before it are kept for "Previous page".
function openBrowser(queue, state, cursor) {
  const same = browser.queue === queue && browser.state === state;
  const at = same ? browser.cursors.indexOf(cursor) : -1;
  let cursors;
  if (at >= 0) cursors = browser.cursors.slice(0, at + 1);
  else if (same && cursor) cursors = browser.cursors.concat([cursor]);
  else cursors = cursor ? [null, cursor] : [null];
  Object.assign(browser, { queue, state, cursors, armed: null });
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
  const problem = $("tasks-error");
  const seq = ++browser.seq;
  try {
    const page = await api(`${taskPath()}?${query}`);
    if (seq !== browser.seq) return;
    browser.page = page;
    problem.hidden = true;
    renderBrowser();
    if (!browser.page.tasks.length && !cursor) await sayIfUnknown(browser.queue);
  } catch (e) {
    if (seq !== browser.seq) return;
    browser.page = { tasks: [] };
    renderBrowser();
    problem.textContent = `Cannot show the ${browser.state} tasks of "${browser.queue}": ${e.message}`;
    problem.hidden = false;
  }
}

// An empty page of a queue no one has used: say so rather than "no tasks".
async function sayIfUnknown(queue) {
  try {
    const known = (await api("queues")).queues.some((q) => q.name === queue);
    if (known) return;
    const problem = $("tasks-error");
    problem.textContent = `There is no queue "${queue}" on this server (no task of that type has ` +
      "been enqueued): check the name in the address, or pick a queue in the Queues table.";
    problem.hidden = false;
  } catch (_) { /* the Queues panel reports an unreachable API */ }
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
    onclick: () => go(browseHash(browser.queue, s)),
  })));
  const actions = STATE_ACTIONS[browser.state] || [];
  const rows = (page.tasks || []).map((t) => el("tr", { "data-task-id": t.id, "data-testid": `task-row-${t.id}` }, [
    el("td", {}, [el("input", { type: "checkbox", class: "pick", "data-id": t.id, "aria-label": `select ${t.id}` })]),
    el("td", {}, [pageLink(taskHash(t.id), { "data-testid": `open-${t.id}`, text: t.id })]),
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
  $("tasks-all").checked = false;
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
  if (browser.cursors.length > 1) go(browseHash(browser.queue, browser.state));
  else await loadPage();
  refresh();
}

function initBrowser() {
  $("tasks-next").addEventListener("click", () => {
    if (!browser.page || !browser.page.next_cursor) return;
    go(browseHash(browser.queue, browser.state, browser.page.next_cursor));
  });
  $("tasks-prev").addEventListener("click", () => {
    const cursors = browser.cursors;
    if (cursors.length > 1) go(browseHash(browser.queue, browser.state, cursors[cursors.length - 2]));
  });
  $("tasks-reload").addEventListener("click", loadPage);
  $("tasks-close").addEventListener("click", () => go("#/"));
  $("tasks-all").addEventListener("change", (event) => {
    for (const c of document.querySelectorAll("#tasks-table .pick")) c.checked = event.target.checked;
  });
}

document.addEventListener("DOMContentLoaded", () => {
  initBrowser();
  window.addEventListener("hashchange", route);
  // Every script has run by now (they are deferred), detail.js included.
  route();
});

