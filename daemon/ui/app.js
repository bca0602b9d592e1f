// The live page of a Ferry cluster. Takes the cluster secret once (a form, or the URL fragment
// `#secret=…`, removed from the address bar at once) and keeps it in this tab's sessionStorage;
// asks the node serving the page for the cluster's nodes, then asks every node for its status
// every few seconds and follows every node's event stream, refreshing as soon as something
// happens. The move control makes the edit `ferry migrate` makes, through `config.migrate`.
import { ApiError, describe, NodeApi } from "./api.js";
import { logLines, mergeProcesses } from "./model.js";
import { addEvent, renderNodes, renderProcesses } from "./view.js";

const KEY = "ferry.secret";
const REFRESH_MS = 2000;
const RECONNECT_MS = 1500;
const $ = (id) => document.getElementById(id);

let session;

function start() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("secret");
  if (fromHash !== null) {
    sessionStorage.setItem(KEY, fromHash);
    history.replaceState(null, "", location.pathname + location.search);
  }
  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY, $("secret").value);
    $("secret").value = "";
    void connect();
  });
  void connect();
}

function askSecret(message) {
  session?.close();
  session = undefined;
  $("main").hidden = true;
  $("login").hidden = false;
  $("login-error").hidden = !message;
  $("login-error").textContent = message ?? "";
  $("connection").textContent = "Not connected";
  $("secret").focus();
}

async function connect() {
  session?.close();
  const secret = sessionStorage.getItem(KEY);
  if (!secret) return askSecret();
  const home = new NodeApi("(this page's node)", "", secret);
  try {
    const info = await home.post("nodes", {});
    $("login").hidden = true;
    $("main").hidden = false;
    session = new Session(home, info, secret);
  } catch (error) {
    if (error instanceof ApiError && error.code === "unauthorized") {
      sessionStorage.removeItem(KEY);
      return askSecret("Wrong cluster secret: the node refused it. Enter the secret from cluster.yaml (cluster.secret or FERRY_SECRET).");
    }
    $("connection").textContent = `Cannot reach the node serving this page: ${describe(error)}; retrying…`;
    setTimeout(() => void connect(), RECONNECT_MS);
  }
}

class Session {
  constructor(home, info, secret) {
    this.home = home;
    this.self = info.node;
    this.stop = new AbortController();
    this.nodes = info.nodes.map((n) => new NodeApi(n.name, n.name === info.node ? "" : n.url, secret));
    this.urls = new Map(info.nodes.map((n) => [n.name, n.url]));
    this.seen = new Map();
    this.logs = { supported: undefined, selected: null };
    this.timer = undefined;
    $("cluster").textContent = `${info.cluster} (page served by ${info.node})`;
    for (const node of this.nodes) void this.follow(node);
    void this.probeLogs();
    void this.refresh();
  }

  close() {
    this.stop.abort();
    clearTimeout(this.timer);
  }

  /** Refreshes soon: events come in bursts (suspended, transferred, resumed). */
  poke() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.refresh(), 100);
  }

  async refresh() {
    clearTimeout(this.timer);
    if (this.stop.signal.aborted) return;
    const answers = await Promise.all(this.nodes.map((n) => n.post("status", {}, 3000).then((status) => ({ status }), (error) => ({ error }))));
    if (this.stop.signal.aborted) return;
    if (answers.some((a) => a.error instanceof ApiError && a.error.code === "unauthorized")) {
      sessionStorage.removeItem(KEY);
      return askSecret("Wrong cluster secret: a node refused it (was it changed?). Enter the current one.");
    }
    const nodes = this.nodes.map((n, i) => ({
      name: n.name,
      url: this.urls.get(n.name),
      status: answers[i].status ?? null,
      error: answers[i].error ? describe(answers[i].error) : null,
    }));
    renderNodes($("nodes").tBodies[0], nodes);
    const processes = mergeProcesses(nodes.filter((n) => n.status).map((n) => n.status.processes));
    renderProcesses($("processes").tBodies[0], processes, nodes.map((n) => n.name), {
      onMove: (name, to) => void this.move(name, to),
      onSelect: (name) => this.select(name),
    });
    const up = nodes.filter((n) => n.status).length;
    $("connection").textContent = `${up} of ${nodes.length} nodes reachable · updated ${new Date().toLocaleTimeString()}`;
    await this.showLogs();
    this.timer = setTimeout(() => void this.refresh(), REFRESH_MS);
  }

  /** Follows one node's events for the whole session, reconnecting when its stream breaks. */
  async follow(node) {
    while (!this.stop.signal.aborted) {
      try {
        await node.follow((event) => this.onEvent(event), this.stop.signal);
      } catch (error) {
        if (error instanceof ApiError && error.code === "unauthorized") return;
      }
      await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
    }
  }

  onEvent(event) {
    // A reconnected stream repeats its history: show each event once.
    const key = `${event.node}|${event.time}|${event.seq}`;
    if (this.seen.has(key)) return;
    this.seen.set(key, true);
    if (this.seen.size > 5000) this.seen.delete(this.seen.keys().next().value);
    addEvent($("events"), event);
    this.poke();
  }

  async move(name, to) {
    const action = $("action");
    action.className = "";
    action.textContent = `Moving ${name} to ${to}…`;
    try {
      const r = await this.home.post("config.migrate", { process: name, node: to }, 20000);
      action.textContent = r.changed
        ? `cluster.yaml now places ${name} on ${to} (was ${r.from ?? "unpinned"}); it moves as soon as the nodes take the edit`
        : `cluster.yaml already places ${name} on ${to}`;
    } catch (error) {
      action.className = "error";
      action.textContent = `Cannot move ${name} to ${to}: ${describe(error)}`;
    }
    this.poke();
  }

  /**
   * Whether the daemon has a `logs.read` route: an empty body is refused as a bad request by a
   * route that exists, and as an unknown endpoint otherwise. Without it the panel stays hidden.
   */
  async probeLogs() {
    try {
      await this.home.post("logs.read", {});
      this.logs.supported = true;
    } catch (error) {
      this.logs.supported = !(error instanceof ApiError && error.status === 404 && error.code === "not_found");
    }
  }

  select(name) {
    this.logs.selected = name;
    void this.showLogs();
  }

  async showLogs() {
    const { supported, selected } = this.logs;
    $("logs").hidden = supported !== true || selected === null;
    if ($("logs").hidden) return;
    $("logs-process").textContent = selected;
    const lines = [];
    for (const node of this.nodes) {
      try {
        lines.push(...logLines(await node.post("logs.read", { name: selected, lines: 20 }, 3000)));
      } catch {
        // A node that never ran it, or is down: the others' lines still show.
      }
    }
    $("logs-lines").textContent = lines.sort().slice(-20).join("\n") || "(no lines)";
  }
}

start();
