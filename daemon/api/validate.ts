/**
 * Runtime validation of API request bodies with the same schemas that give them their types.
 * @module
 */
import type { ValidateFunction } from "ajv";
import { requests } from "../../schemas/api.schema.ts";
import type { MessageType, RequestOf } from "../../schemas/api.schema.ts";
import { requestKey, validators as compiled } from "../../schemas/validators.ts";
import { FerryError, unknownField } from "../errors.ts";

const api = await compiled("api");
const validators = new Map<string, ValidateFunction>(Object.keys(requests).map((type) => [type, api[requestKey(type)]!]));

export function isMessageType(type: string): type is MessageType {
  return validators.has(type);
}

/**
 * Checks (and fills defaults into) a request body; throws a `bad_request` FerryError naming the field.
 *
 * @example
 * ```ts
 * const body = validateRequest("call", { name: "counter", method: "get" }); // args: [] filled in
 * ```
 */
export function validateRequest<T extends MessageType>(type: T, body: unknown): RequestOf<T> {
  const validate = validators.get(type)!;
  if (!validate(body)) {
    const e = validate.errors?.[0];
    const where = e?.instancePath ? ` at ${e.instancePath}` : "";
    const extra = (e?.params as { additionalProperty?: string } | undefined)?.additionalProperty;
    const what = extra ? unknownField(extra) : (e?.message ?? "malformed");
    throw new FerryError("bad_request", `Invalid "${type}" request${where}: ${what}`);
  }
  return body as RequestOf<T>;
}
