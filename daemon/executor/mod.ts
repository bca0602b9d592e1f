/** Executors: worker threads that host processes off the daemon's control loop. @module */
export { defaultTimeouts, ExecutorPool, fromWire } from "./pool.ts";
export type { PoolEvents, PoolOptions, RequestOptions, RequestTimeouts, SnapshotFeed } from "./pool.ts";
export { defaultLogLimits } from "./log-limit.ts";
export type { LogLimits } from "./log-limit.ts";
