// Executor worker bootstrap. On Node, module hooks are per thread: the worker registers its own,
// which strip the types of process modules written in TypeScript (and of Ferry's sources when it
// runs unbuilt). Deno runs TypeScript natively.
if (!("Deno" in globalThis)) {
  const { register } = await import("node:module");
  register(new URL("../modules/ts-hooks.mjs", import.meta.url));
  globalThis[Symbol.for("ferry.processLoader")] = true;
}
await import("./worker.ts");
