// wasmq dashboard: a flow as a tree. Loaded after app.js and built on its
// helpers ($, el, api, POLL_MS): a flow parent typed into the lookup box
// opens below it with its dependencies, each with its state, and redraws
// while the page polls. Flow parents are the ids whose local part (after
// `queue:`) starts with `f-`; a dependency that is one opens lazily on
// click. A flow may wait for 10 000 tasks, so only the first FLOW_SHOWN
// dependencies of each flow are drawn, with a count of the rest, and the
// outstanding ones among those are looked up at most FLOW_LOOKUPS at a
// time (a counted one shows the final state it was counted with). Like
// app.js, every text from the API goes in with textContent, never as markup.
"use strict";

const FLOW_SHOWN = 200;
const FLOW_LOOKUPS = 6;
const FLOW_DEPTH = 8;

const flows = { root: null, open: new Set(), busy: false, again: false };

function isFlowId(id) {
  const colon = id.indexOf(":");
  return colon > 0 && id.slice(colon + 1).startsWith("f-");
}

function stateBadge(state) {
  const kind = {
    completed: "ok", released: "ok", dead: "bad", cancelled: "bad", active: "run",
    waiting: "warn", pending: "warn", scheduled: "warn", "retry-wait": "warn",
  }[state];
  return el("span", { class: kind ? `badge ${kind}` : "badge", "data-state": state, text: state });
}

// Runs fn over items, at most `limit` at once; results in item order.
async function pool(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

async function taskState(id) {
  try {
    return (await api(`tasks/${encodeURIComponent(id)}`)).state;
  } catch (e) {
    return e.status === 404 ? "gone" : "unknown";
  }
}

// One flow and, depth first, every nested flow the operator opened.
async function loadFlow(id, depth, seen) {
  seen.add(id);
  const [flow, state] = await Promise.all([api(`flows/${encodeURIComponent(id)}`), taskState(id)]);
  const shown = (flow.dependencies || []).slice(0, FLOW_SHOWN);
  const states = await pool(shown, FLOW_LOOKUPS, (d) => d.counted_as || taskState(d.id));
  const nested = {};
  for (const d of shown) {
    if (flows.open.has(d.id) && isFlowId(d.id) && depth < FLOW_DEPTH && !seen.has(d.id)) {
      try {
        nested[d.id] = await loadFlow(d.id, depth + 1, seen);
      } catch (e) {
        nested[d.id] = { error: e.message };
      }
    }
  }
  return { flow, state, shown, states, nested, depth };
}

function toggle(id) {
  if (flows.open.has(id)) flows.open.delete(id);
  else flows.open.add(id);
  refreshFlow();
}

// A flow's head line and its dependencies; a nested flow's id and state are
// on its dependency line already, so its head is the summary alone.
function renderFlow(node) {
  const f = node.flow;
  const total = (f.dependencies || []).length;
  const summary = el("span", { class: "muted",
    text: `flow outcome ${f.outcome} · ${f.outstanding} of ${total} outstanding · on child failure: ${f.on_child_failure}` });
  const head = el("div", { class: "flow-head", "data-testid": `flow-${f.id}` },
    node.depth === 0 ? [el("code", { text: f.id }), stateBadge(node.state), summary] : [summary]);
  const items = node.shown.map((d, i) => {
    const state = node.states[i];
    const nestable = isFlowId(d.id) && node.depth < FLOW_DEPTH;
    const open = nestable && flows.open.has(d.id);
    const line = [
      nestable
        ? el("button", { class: "toggle", "data-testid": `flow-toggle-${d.id}`, "aria-expanded": String(open),
            title: open ? "Close this flow" : "Open this flow", text: open ? "▾" : "▸", onclick: () => toggle(d.id) })
        : el("span", { class: "toggle-space" }),
      el("code", { text: d.id }), stateBadge(state),
      d.counted_as ? el("span", { class: "muted", text: "counted" }) : el("span", { class: "muted", text: "outstanding" }),
    ];
    const child = open && node.nested[d.id];
    const below = !child ? []
      : child.error ? [el("div", { class: "error", text: child.error })]
      : [renderFlow(child)];
    return el("li", { "data-testid": `flow-dep-${d.id}`, "data-state": state }, [el("div", { class: "flow-line" }, line), ...below]);
  });
  if (total > node.shown.length) {
    items.push(el("li", { class: "muted", "data-testid": `flow-more-${f.id}`, text: `… and ${total - node.shown.length} more` }));
  }
  return el("div", { class: "flow-node" }, [head, el("ul", { class: "flow-deps" }, items)]);
}

// Loads and redraws the open tree; a call while one runs asks for one more.
async function refreshFlow() {
  const box = $("flow-tree");
  const root = flows.root;
  if (!root) return;
  if (flows.busy) { flows.again = true; return; }
  flows.busy = true;
  try {
    const tree = await loadFlow(root, 0, new Set());
    if (flows.root === root) box.replaceChildren(renderFlow(tree));
  } catch (e) {
    if (flows.root === root) {
      box.replaceChildren(el("p", { class: "muted", "data-testid": "flow-error", text: `${root}: ${e.message}` }));
    }
  } finally {
    flows.busy = false;
    box.dataset.loads = String(Number(box.dataset.loads || 0) + 1);
  }
  if (flows.again) { flows.again = false; refreshFlow(); }
}

function openFlow(event) {
  event.preventDefault();
  const id = $("lookup-input").value.trim();
  const box = $("flow-tree");
  flows.open.clear();
  if (!isFlowId(id)) {
    flows.root = null;
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  flows.root = id;
  box.hidden = false;
  box.replaceChildren(el("p", { class: "muted", text: `Loading flow ${id}…` }));
  refreshFlow();
}

document.addEventListener("DOMContentLoaded", () => {
  $("lookup-form").addEventListener("submit", openFlow);
  setInterval(refreshFlow, POLL_MS);
});
