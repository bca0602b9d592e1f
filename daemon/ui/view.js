// The page's DOM: built with createElement and textContent only (no HTML from data), rows keyed
// by name and updated in place, so a refresh keeps a half-made choice in a row's move control.
import { formatBytes, formatEvent, formatMs } from "./model.js";

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("data-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  node.append(...children);
  return node;
}

function cell(field, text, cls = "") {
  return el("td", { "data-field": field, class: cls, textContent: text });
}

/** Shows the nodes: `[{ name, url, status, error }]`, status null when the node did not answer. */
export function renderNodes(tbody, nodes) {
  tbody.replaceChildren(...nodes.map((n) => {
    const s = n.status;
    const self = s?.balancer?.loads?.find((l) => l.node === n.name);
    return el(
      "tr",
      { "data-node": n.name, class: s ? "" : "down" },
      cell("name", n.name),
      cell("url", n.url),
      cell("state", s ? "up" : "unreachable", s ? "up" : ""),
      cell("runtime", s ? `${s.runtime} ${s.version}` : "-"),
      cell("processes", s ? String(s.load.processes) : "-", "num"),
      cell("load", self ? self.load.toFixed(2) : "-", "num"),
      cell("rss", s ? formatBytes(s.load.rssBytes) : "-", "num"),
      cell("note", s ? (s.configError ? `config error: ${s.configError}` : "") : n.error ?? ""),
    );
  }));
}

/**
 * Shows the processes. `nodeNames` fill each row's move control; `onMove(name, node)` runs on
 * its button, `onSelect(name)` when a name is clicked (the log panel).
 */
export function renderProcesses(tbody, processes, nodeNames, { onMove, onSelect }) {
  const rows = new Map([...tbody.rows].map((r) => [r.dataset.process, r]));
  const ordered = processes.map((p) => {
    const row = rows.get(p.name) ?? newProcessRow(p.name, onMove, onSelect);
    const set = (field, text, cls) => {
      const td = row.querySelector(`[data-field="${field}"]`);
      td.textContent = text;
      if (cls !== undefined) td.className = cls;
    };
    set("module", p.module);
    set("node", p.node);
    set("desired", p.desired ?? (p.placedBy === "balancer" ? "(balancer)" : "-"));
    set("state", p.state, `state-${p.state}`);
    set("generation", String(p.generation), "num");
    set("migrations", String(p.migrations), "num");
    set("downtime", formatMs(p.lastDowntimeMs), "num");
    set("error", p.error ?? "", "error");
    const select = row.querySelector("select");
    const names = [...select.options].map((o) => o.value).join(",");
    if (names !== nodeNames.join(",")) {
      select.replaceChildren(...nodeNames.map((n) => el("option", { value: n, textContent: n })));
      select.value = p.desired ?? p.node;
    }
    return row;
  });
  tbody.replaceChildren(...ordered);
}

function newProcessRow(name, onMove, onSelect) {
  const select = el("select", { "aria-label": `Node to move ${name} to` });
  const move = el("button", { type: "button", textContent: "Move", "data-action": "move" });
  move.addEventListener("click", () => onMove(name, select.value));
  const nameButton = el("button", { type: "button", class: "name", textContent: name, title: "Show its log" });
  nameButton.addEventListener("click", () => onSelect(name));
  const fields = ["module", "node", "desired", "state", "generation", "migrations", "downtime", "error"];
  return el(
    "tr",
    { "data-process": name },
    el("td", { "data-field": "name" }, nameButton),
    ...fields.map((f) => cell(f, "")),
    el("td", { "data-field": "move" }, select, " ", move),
  );
}

/** Adds an event at the top of the list, keeping the latest `keep`. */
export function addEvent(list, event, keep = 200) {
  list.prepend(el("li", { "data-type": event.type, textContent: formatEvent(event) }));
  while (list.children.length > keep) list.lastElementChild.remove();
}
