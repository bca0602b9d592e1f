// Executor worker bootstrap. On Node the TypeScript loader must be registered inside the worker
// too (loader hooks are per thread); Deno runs TypeScript natively.
if (!("Deno" in globalThis)) {
  const { register } = await import("tsx/esm/api");
  register();
}
await import("./worker.ts");
