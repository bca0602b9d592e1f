/**
 * A node's metrics and their Prometheus text form (`GET /metrics`).
 * @module
 */
export { NodeMetrics, type NodeMetricsSource } from "./node-metrics.ts";
export { Counter, exponentialBuckets, Gauge, Histogram, type Labels, type MetricFamily, MetricsRegistry, type Sample } from "./registry.ts";
export { PROMETHEUS_CONTENT_TYPE, renderPrometheus } from "./prometheus.ts";
