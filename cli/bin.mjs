#!/usr/bin/env node
// Node entry for `ferry`: registers the TypeScript loader, then runs the same cli/main.ts that
// `deno run -A cli/main.ts` runs. Deno needs no such shim.
import { register } from "tsx/esm/api";

register();
await import("./main.ts");
