/**
 * The static files of the live web page, `GET /ui/`: served without the secret because they hold
 * nothing but code (every datum the page shows comes from the authenticated API, with the secret
 * the user gives it). Only the listed files exist; each goes out with its content type, `nosniff`
 * and a Content-Security-Policy that allows this origin's scripts and styles only, and requests
 * to the cluster's own nodes only.
 *
 * @example
 * ```ts
 * const page = uiResponse(req, ["http://127.0.0.1:7101", "http://127.0.0.1:7102"]);
 * if (page) return await page;
 * ```
 * @module
 */
import { readFile } from "node:fs/promises";
import { bufferedResponse, emptyResponse } from "./lazy-response.ts";

/** The page's files, by name under `/ui/`, with their content types. */
const files: Readonly<Record<string, string>> = {
  "index.html": "text/html; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "api.js": "text/javascript; charset=utf-8",
  "view.js": "text/javascript; charset=utf-8",
  "model.js": "text/javascript; charset=utf-8",
  "style.css": "text/css; charset=utf-8",
};

const folder = new URL("../ui/", import.meta.url);
const cache = new Map<string, Promise<Uint8Array>>();

function read(name: string): Promise<Uint8Array> {
  let bytes = cache.get(name);
  if (!bytes) {
    bytes = readFile(new URL(name, folder)).then((b) => new Uint8Array(b));
    // A failed read is not kept: the file may be there next time.
    bytes.catch(() => cache.delete(name));
    cache.set(name, bytes);
  }
  return bytes;
}

/**
 * The Content-Security-Policy of the page: nothing inline, nothing from elsewhere, API requests to
 * this origin and the cluster's nodes (`origins`), no framing.
 *
 * @example
 * ```ts
 * contentSecurityPolicy(["http://127.0.0.1:7102"]); // "default-src 'none'; script-src 'self'; ..."
 * ```
 */
export function contentSecurityPolicy(origins: readonly string[]): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    `connect-src ${["'self'", ...origins].join(" ")}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/**
 * The answer for a request under `/ui`, or undefined when the request is not for the page (the
 * API handles it, secret first). `/ui` redirects to `/ui/`, which is `index.html`.
 *
 * @example
 * ```ts
 * await uiResponse(new Request("http://127.0.0.1:7101/ui/app.js"), [])?.then((r) => r.headers.get("content-type"));
 * // "text/javascript; charset=utf-8"
 * ```
 */
export function uiResponse(req: Request, origins: readonly string[]): Promise<Response> | undefined {
  const { pathname } = new URL(req.url);
  if (pathname !== "/ui" && !pathname.startsWith("/ui/")) return undefined;
  return answer(req.method, pathname, origins);
}

async function answer(method: string, pathname: string, origins: readonly string[]): Promise<Response> {
  const headers = {
    "content-security-policy": contentSecurityPolicy(origins),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-cache",
  };
  if (method !== "GET" && method !== "HEAD") {
    return bufferedResponse("Method not allowed\n", { status: 405, headers: { ...headers, allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" } });
  }
  if (pathname === "/ui") return emptyResponse({ status: 308, headers: { ...headers, location: "/ui/" } });
  const name = pathname === "/ui/" ? "index.html" : pathname.slice(4);
  const type = Object.hasOwn(files, name) ? files[name] : undefined;
  if (!type) return bufferedResponse("Not found\n", { status: 404, headers: { ...headers, "content-type": "text/plain; charset=utf-8" } });
  const bytes = await read(name);
  // HEAD tells the length of what GET would send, with no body.
  if (method === "HEAD") return emptyResponse({ headers: { ...headers, "content-type": type, "content-length": String(bytes.byteLength) } });
  return bufferedResponse(bytes, { headers: { ...headers, "content-type": type } });
}
