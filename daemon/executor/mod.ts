/** Executors: worker threads that host processes off the daemon's control loop. @module */
export { ExecutorPool, fromWire } from "./pool.ts";
export type { PoolEvents, PoolOptions } from "./pool.ts";
