// Executor worker bootstrap. Process modules arrive compiled to JavaScript (see
// daemon/modules/materialize.ts), so a worker of the built daemon (dist/) needs no module hooks,
// which would cost a thread and some 20 MiB each on Node 20. Only when Ferry itself runs from
// its TypeScript sources on Node (tests, an unbuilt checkout) does the worker register the hooks
// that strip types. Deno runs TypeScript natively.
if (!("Deno" in globalThis) && !/\/dist\/daemon\/executor\/[^/]+$/.test(new URL(import.meta.url).pathname)) {
  const { register } = await import("node:module");
  register(new URL("../modules/ts-hooks.mjs", import.meta.url));
  globalThis[Symbol.for("ferry.processLoader")] = true;
}
await import("./worker.ts");
