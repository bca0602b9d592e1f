/**
 * Collects an answer body into one buffer: preallocated when its length is known, so a large
 * snapshot is copied once, and bounded by a maximum either way.
 *
 * @example
 * ```ts
 * const body = new BodyCollector(Number(headers.get("content-length") ?? NaN), 1 << 20);
 * for await (const chunk of stream) body.add(chunk);
 * const bytes = body.finish();
 * ```
 * @module
 */

/** A body longer than the caller accepts. */
export class AnswerTooLarge extends Error {
  constructor(readonly bytes: number, readonly maxBytes: number) {
    super(`Body of ${bytes} bytes exceeds the ${maxBytes}-byte limit`);
  }
}

export class BodyCollector {
  readonly #length: number | undefined;
  readonly #maxBytes: number;
  readonly #chunks: Uint8Array[] = [];
  #out: Uint8Array;
  #received = 0;

  /** `length`: the announced length (NaN or undefined when unknown). Throws AnswerTooLarge at once. */
  constructor(length: number | undefined, maxBytes: number) {
    this.#length = length !== undefined && Number.isFinite(length) ? length : undefined;
    this.#maxBytes = maxBytes;
    if (this.#length !== undefined && this.#length > maxBytes) throw new AnswerTooLarge(this.#length, maxBytes);
    this.#out = new Uint8Array(this.#length ?? 0);
  }

  /** Bytes received so far. */
  get received(): number {
    return this.#received;
  }

  /** The announced length, or 0 when unknown (what progress reports show). */
  get total(): number {
    return this.#length ?? 0;
  }

  add(chunk: Uint8Array): void {
    if (this.#length !== undefined) {
      if (this.#received + chunk.byteLength > this.#length) throw new Error("body longer than its content-length");
      this.#out.set(chunk, this.#received);
    } else {
      if (this.#received + chunk.byteLength > this.#maxBytes) throw new AnswerTooLarge(this.#received + chunk.byteLength, this.#maxBytes);
      this.#chunks.push(chunk);
    }
    this.#received += chunk.byteLength;
  }

  /** The whole body; throws when fewer bytes arrived than announced. */
  finish(): Uint8Array {
    if (this.#length !== undefined) {
      if (this.#received !== this.#length) throw new Error(`the answer broke off after ${this.#received} of ${this.#length} bytes`);
      return this.#out;
    }
    const out = new Uint8Array(this.#received);
    let at = 0;
    for (const c of this.#chunks) {
      out.set(c, at);
      at += c.byteLength;
    }
    return out;
  }
}
