/**
 * Cross-origin access for the web page: served by one node, it asks every node of the cluster
 * directly, which the browser allows only when those nodes say so. They say so for the cluster's
 * own node origins only, and the secret is still required on every request (it travels in a
 * header the page sets, never in a cookie, so a foreign page cannot borrow it).
 *
 * @example
 * ```ts
 * const origins = nodeOrigins(config.nodes);
 * if (req.method === "OPTIONS") return preflight(req, origins);
 * allowOrigin(req, response, origins);
 * ```
 * @module
 */
import { isLoopbackHost } from "../listen.ts";
import { emptyResponse } from "./lazy-response.ts";

/** The names of this machine's loopback interface a browser may use for a node on loopback. */
const LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "[::1]"];

/**
 * The origins (`scheme://host:port`) of the nodes' URLs, as cluster.yaml spells them: where the
 * page connects (its Content-Security-Policy lists them).
 *
 * @example
 * ```ts
 * nodeOrigins({ alpha: { url: "http://127.0.0.1:7101/" } }); // ["http://127.0.0.1:7101"]
 * ```
 */
export function nodeOrigins(nodes: Readonly<Record<string, { url: string }>>): string[] {
  const out = new Set<string>();
  for (const { url } of Object.values(nodes)) {
    try {
      out.add(new URL(url).origin);
    } catch {
      // The config parser rejects such a URL; nothing to allow.
    }
  }
  return [...out];
}

/**
 * The origins a page may be served from to ask the nodes cross-origin: each node's origin, and
 * for a node on loopback the same scheme and port under each loopback name (`localhost`,
 * `127.0.0.1`, `[::1]`). A page opened at `http://localhost:7101/ui/` for a node configured as
 * `http://127.0.0.1:7101` is that node's own page, and would otherwise find every other node
 * refusing it. Any other host must be spelt as cluster.yaml spells it.
 *
 * @example
 * ```ts
 * pageOrigins(["http://127.0.0.1:7101"]); // also http://localhost:7101 and http://[::1]:7101
 * ```
 */
export function pageOrigins(origins: readonly string[]): string[] {
  const out = new Set<string>();
  for (const origin of origins) {
    out.add(origin);
    const parsed = new URL(origin);
    if (!isLoopbackHost(parsed.hostname)) continue;
    const port = parsed.port ? `:${parsed.port}` : "";
    for (const host of LOOPBACK_HOSTS) out.add(`${parsed.protocol}//${host}${port}`);
  }
  return [...out];
}

function allowed(req: Request, origins: readonly string[]): string | undefined {
  const origin = req.headers.get("origin");
  return origin !== null && origins.includes(origin) ? origin : undefined;
}

/**
 * The answer to a CORS preflight (`OPTIONS`): allowed for a node origin, a bare 204 otherwise
 * (which the browser takes as a refusal).
 *
 * @example
 * ```ts
 * preflight(new Request("http://b/v1/ps", { method: "OPTIONS", headers: { origin: "http://a" } }), ["http://a"]).status; // 204
 * ```
 */
export function preflight(req: Request, origins: readonly string[]): Response {
  const origin = allowed(req, origins);
  if (!origin) return emptyResponse({ status: 204, headers: { vary: "Origin" } });
  return emptyResponse({
    status: 204,
    headers: {
      "access-control-allow-origin": origin,
      "access-control-allow-methods": "GET, POST",
      "access-control-allow-headers": "authorization, content-type",
      "access-control-max-age": "600",
      vary: "Origin",
    },
  });
}

/**
 * Marks an API answer readable by the page when the request came from a node origin; returns it.
 *
 * @example
 * ```ts
 * return allowOrigin(req, Response.json(result), origins);
 * ```
 */
export function allowOrigin(req: Request, res: Response, origins: readonly string[]): Response {
  const origin = allowed(req, origins);
  if (!origin) return res;
  try {
    res.headers.set("access-control-allow-origin", origin);
    res.headers.append("vary", "Origin");
    return res;
  } catch {
    // Headers of a response that came from elsewhere are immutable: copy it.
    const copy = new Response(res.body, res);
    copy.headers.set("access-control-allow-origin", origin);
    copy.headers.append("vary", "Origin");
    return copy;
  }
}
