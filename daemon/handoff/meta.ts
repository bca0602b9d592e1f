/**
 * The metadata that travels with a snapshot in the `ferry-handoff` header, checked against its
 * schema on arrival: a destination never instantiates from a header it does not understand.
 * @module
 */
import type { ValidateFunction } from "ajv";
import { FerryError } from "../errors.ts";
import type { HandoffMeta } from "../../schemas/api.schema.ts";
import { validators } from "../../schemas/validators.ts";

/** Header carrying what travels with a snapshot besides the fields. */
export const META_HEADER = "ferry-handoff";

const validate = (await validators("api")).handoffMeta as ValidateFunction<HandoffMeta>;

/**
 * Parses and validates the header's value.
 *
 * @example
 * ```ts
 * parseMeta('{"module":"Counter","args":[],"migrations":0,"preludeMs":0.1,"completed":false}').module; // "Counter"
 * ```
 */
export function parseMeta(header: string | null): HandoffMeta {
  if (!header) throw new FerryError("bad_request", "Hand-off answer lacks its metadata header");
  let value: unknown;
  try {
    value = JSON.parse(header);
  } catch {
    throw new FerryError("bad_request", "Hand-off metadata is not JSON");
  }
  if (!validate(value)) throw new FerryError("bad_request", `Hand-off metadata is malformed: ${validate.errors?.[0]?.message ?? "invalid"}`);
  return value;
}
