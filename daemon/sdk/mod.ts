/**
 * The surface a process module may import. Importing it is optional: Ferry runs any default-exported
 * class with a `run(ctx)` method.
 * @module
 */
export type { ProcessContext, ProcessInstance } from "./context.ts";
export { FerryProcess } from "./context.ts";
