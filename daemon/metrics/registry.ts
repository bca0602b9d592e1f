/**
 * A small metrics registry: counters, gauges and histograms with labels, collected into families
 * that `prometheus.ts` writes out. Gauges may be computed at collection time (memory, processes
 * by state), so nothing polls in the background.
 *
 * @example
 * ```ts
 * const registry = new MetricsRegistry();
 * const moves = registry.counter("ferry_handoffs_committed_total", "Hand-offs committed");
 * moves.inc();
 * registry.collect(); // [{ name: "ferry_handoffs_committed_total", type: "counter", samples: [...] }]
 * ```
 * @module
 */

export type Labels = Readonly<Record<string, string>>;

/** One value of a family; histograms name their series by `suffix` (`_bucket`, `_sum`, `_count`). */
export interface Sample {
  suffix?: "_bucket" | "_sum" | "_count";
  labels: Labels;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  samples: Sample[];
}

interface Collectable {
  collect(): MetricFamily;
}

/** Prometheus metric names: `[a-zA-Z_:][a-zA-Z0-9_:]*`. */
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

function keyOf(labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** A value that only goes up (per label set). */
export class Counter implements Collectable {
  readonly #values = new Map<string, { labels: Labels; value: number }>();
  constructor(readonly name: string, readonly help: string) {}

  /**
   * Adds `by` (default 1) to the series of `labels`.
   *
   * @example
   * ```ts
   * events.inc({ type: "resumed" });
   * ```
   */
  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new RangeError(`Counter "${this.name}" cannot go down (by ${by})`);
    const key = keyOf(labels);
    const entry = this.#values.get(key);
    if (entry) entry.value += by;
    else this.#values.set(key, { labels: { ...labels }, value: by });
  }

  /** The current value of one series (0 if never incremented). */
  value(labels: Labels = {}): number {
    return this.#values.get(keyOf(labels))?.value ?? 0;
  }

  collect(): MetricFamily {
    const samples = [...this.#values.values()].map(({ labels, value }) => ({ labels, value }));
    return { name: this.name, help: this.help, type: "counter", samples: samples.length ? samples : [{ labels: {}, value: 0 }] };
  }
}

/** A value read when collected. */
export class Gauge implements Collectable {
  constructor(readonly name: string, readonly help: string, readonly read: () => Array<{ labels?: Labels; value: number }>) {}

  collect(): MetricFamily {
    return { name: this.name, help: this.help, type: "gauge", samples: this.read().map((s) => ({ labels: s.labels ?? {}, value: s.value })) };
  }
}

/** Observations counted into cumulative buckets, with their sum and count. */
export class Histogram implements Collectable {
  readonly #buckets: readonly number[];
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  constructor(readonly name: string, readonly help: string, buckets: readonly number[]) {
    this.#buckets = [...buckets].sort((a, b) => a - b);
    this.#counts = this.#buckets.map(() => 0);
  }

  /**
   * Records one observation.
   *
   * @example
   * ```ts
   * downtime.observe(0.004);
   * ```
   */
  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    for (let i = 0; i < this.#buckets.length; i++) if (value <= this.#buckets[i]!) this.#counts[i]!++;
    this.#sum += value;
    this.#count++;
  }

  get count(): number {
    return this.#count;
  }

  collect(): MetricFamily {
    const samples: Sample[] = this.#buckets.map((le, i) => ({ suffix: "_bucket", labels: { le: String(le) }, value: this.#counts[i]! }));
    samples.push({ suffix: "_bucket", labels: { le: "+Inf" }, value: this.#count });
    samples.push({ suffix: "_sum", labels: {}, value: this.#sum }, { suffix: "_count", labels: {}, value: this.#count });
    return { name: this.name, help: this.help, type: "histogram", samples };
  }
}

/**
 * Buckets growing by `factor` from `start`: `exponentialBuckets(0.001, 2, 4)` is 1, 2, 4, 8 ms.
 *
 * @example
 * ```ts
 * exponentialBuckets(1024, 4, 8); // 1 KiB … 16 MiB
 * ```
 */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => start * factor ** i);
}

/** The metrics of one node, in the order they were registered. */
export class MetricsRegistry {
  readonly #metrics: Collectable[] = [];
  readonly #names = new Set<string>();

  counter(name: string, help: string): Counter {
    return this.#add(new Counter(name, help));
  }

  gauge(name: string, help: string, read: () => Array<{ labels?: Labels; value: number }>): Gauge {
    return this.#add(new Gauge(name, help, read));
  }

  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    return this.#add(new Histogram(name, help, buckets));
  }

  /**
   * Every family with its current samples.
   *
   * @example
   * ```ts
   * renderPrometheus(registry.collect());
   * ```
   */
  collect(): MetricFamily[] {
    return this.#metrics.map((m) => m.collect());
  }

  #add<M extends Collectable & { name: string }>(metric: M): M {
    if (!NAME.test(metric.name)) throw new RangeError(`Invalid metric name "${metric.name}"`);
    if (this.#names.has(metric.name)) throw new RangeError(`Metric "${metric.name}" is registered twice`);
    this.#names.add(metric.name);
    this.#metrics.push(metric);
    return metric;
  }
}
