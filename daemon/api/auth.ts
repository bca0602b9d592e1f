/**
 * The cluster secret check every endpoint goes through (guarantee 9).
 * @module
 */
const encoder = new TextEncoder();

/**
 * Constant-time comparison of the request's bearer token with the secret.
 *
 * @example
 * ```ts
 * authorized(new Request("http://x", { headers: { authorization: "Bearer s" } }), "s"); // true
 * ```
 */
export function authorized(req: Request, secret: string): boolean {
  const header = req.headers.get("authorization") ?? "";
  const token = header.startsWith("Bearer ") ? header.slice(7) : "";
  const a = encoder.encode(token);
  const b = encoder.encode(secret);
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i] ?? 0) ^ b[i]!;
  return diff === 0 && b.length > 0;
}
