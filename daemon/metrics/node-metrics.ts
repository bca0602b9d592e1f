/**
 * A node's metrics: hand-off, executor and event counts collected from its lifecycle events (the
 * node's own event log, subscribed to, not polled), timings the node reports (journal fsyncs,
 * checkpoint rounds), and gauges read when scraped (processes by state, memory, module versions).
 * Hand-offs are counted by their source node: started when it is asked to suspend (counted at
 * `suspended`, or at a `rolled-back` that came before it), committed at its `transferred`.
 *
 * @example
 * ```ts
 * const metrics = new NodeMetrics({ node: "alpha", events: state.events, ps: () => state.ps(), modules: () => state.modules(), runtime });
 * const text = metrics.render(); // Prometheus text
 * ```
 * @module
 */
import process from "node:process";
import { type FerryEvent, type ModuleInfo, type ProcessInfo, processStates } from "../../schemas/api.schema.ts";
import type { EventLog } from "../events.ts";
import { type Counter, exponentialBuckets, type Histogram, MetricsRegistry } from "./registry.ts";
import { renderPrometheus } from "./prometheus.ts";

export interface NodeMetricsSource {
  node: string;
  events: EventLog;
  ps(): readonly Pick<ProcessInfo, "state">[];
  modules(): readonly ModuleInfo[];
  runtime: { name: string; version: string };
}

/** Seconds: 0.5 ms … ~16 s. */
const secondsBuckets = exponentialBuckets(0.0005, 2, 16);
/** Bytes: 256 B … 1 GiB. */
const bytesBuckets = exponentialBuckets(256, 4, 12);

export class NodeMetrics {
  readonly registry = new MetricsRegistry();
  readonly #source: NodeMetricsSource;
  readonly #started: Counter;
  readonly #committed: Counter;
  readonly #rolledBack: Counter;
  readonly #downtime: Histogram;
  readonly #bytes: Histogram;
  readonly #checkpoint: Histogram;
  readonly #stalls: Counter;
  readonly #restarts: Counter;
  readonly #fsync: Histogram;
  readonly #events: Counter;
  /** Processes this node suspended for a hand-off whose outcome it has not seen yet. */
  readonly #suspended = new Set<string>();
  readonly #detach: () => void;

  constructor(source: NodeMetricsSource) {
    this.#source = source;
    const r = this.registry;
    r.gauge("ferry_node_info", "This node: its name, runtime and runtime version", () => [{ labels: { node: source.node, runtime: source.runtime.name, version: source.runtime.version }, value: 1 }]);
    r.gauge("ferry_processes", "Processes held by this node, by state", () => {
      const counts = new Map<string, number>(processStates.map((s) => [s, 0]));
      for (const p of source.ps()) counts.set(p.state, (counts.get(p.state) ?? 0) + 1);
      return [...counts].map(([state, value]) => ({ labels: { state }, value }));
    });
    this.#started = r.counter("ferry_handoffs_started_total", "Hand-offs this node began as their source");
    this.#committed = r.counter("ferry_handoffs_committed_total", "Hand-offs this node's processes completed to another node");
    this.#rolledBack = r.counter("ferry_handoffs_rolled_back_total", "Hand-offs that rolled back, the process resuming on this node");
    this.#downtime = r.histogram("ferry_handoff_downtime_seconds", "Time a process arriving here was not running, suspend to resume", secondsBuckets);
    this.#bytes = r.histogram("ferry_handoff_bytes", "Size of the state this node's processes took to another node", bytesBuckets);
    this.#checkpoint = r.histogram("ferry_checkpoint_duration_seconds", "Duration of a periodic checkpoint round (capture and store of every running process)", secondsBuckets);
    this.#stalls = r.counter("ferry_executor_stalls_total", "Executors restarted because they did not yield in time");
    this.#restarts = r.counter("ferry_executor_restarts_total", "Executors restarted for any reason (stall, crash, memory, eviction)");
    r.gauge("ferry_daemon_resident_memory_bytes", "Resident memory of the daemon process, its executors included", () => [{ value: process.memoryUsage().rss }]);
    r.gauge("ferry_daemon_heap_used_bytes", "JavaScript heap in use on the daemon's main thread", () => [{ value: process.memoryUsage().heapUsed }]);
    r.gauge("ferry_daemon_heap_total_bytes", "JavaScript heap reserved on the daemon's main thread", () => [{ value: process.memoryUsage().heapTotal }]);
    this.#fsync = r.histogram("ferry_journal_fsync_seconds", "Latency of the journal's fsyncs (one per group commit)", secondsBuckets);
    r.gauge("ferry_module_info", "Module versions this node's processes folder holds", () =>
      source.modules().filter((m) => m.version !== undefined).map((m) => ({ labels: { module: m.name, version: m.version! }, value: 1 })));
    this.#events = r.counter("ferry_events_total", "Lifecycle events of this node, by type");
    for (const event of source.events.recent()) this.#observe(event);
    this.#detach = source.events.subscribe((event) => this.#observe(event));
  }

  /**
   * Records one journal fsync (the journal calls it).
   *
   * @example
   * ```ts
   * metrics.observeFsync(0.8);
   * ```
   */
  observeFsync(ms: number): void {
    this.#fsync.observe(ms / 1000);
  }

  /**
   * Records one periodic checkpoint round.
   *
   * @example
   * ```ts
   * metrics.observeCheckpointRound(12.5);
   * ```
   */
  observeCheckpointRound(ms: number): void {
    this.#checkpoint.observe(ms / 1000);
  }

  /**
   * The node's metrics in the Prometheus text format.
   *
   * @example
   * ```ts
   * new Response(metrics.render(), { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } });
   * ```
   */
  render(): string {
    return renderPrometheus(this.registry.collect());
  }

  /** Stops counting events. */
  close(): void {
    this.#detach();
  }

  #observe(event: FerryEvent): void {
    this.#events.inc({ type: event.type });
    const name = event.process;
    switch (event.type) {
      case "suspended":
        if (name !== undefined) this.#suspended.add(name);
        this.#started.inc();
        if (event.bytes !== undefined) this.#bytes.observe(event.bytes);
        break;
      case "rolled-back":
        // A suspend that failed rolls back without a `suspended` first: that hand-off began too.
        if (name === undefined || !this.#suspended.delete(name)) this.#started.inc();
        this.#rolledBack.inc();
        break;
      case "transferred":
        if (event.from === this.#source.node) {
          if (name !== undefined) this.#suspended.delete(name);
          this.#committed.inc();
        }
        break;
      case "resumed":
        if (event.ms !== undefined) this.#downtime.observe(event.ms / 1000);
        break;
      case "executor-restarted":
        this.#restarts.inc();
        if (/did not yield/.test(event.reason ?? "")) this.#stalls.inc();
        break;
    }
  }
}
