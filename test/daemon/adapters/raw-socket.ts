/**
 * A raw TCP client for the adapter tests: writes exactly the bytes a test wants (partial headers,
 * a trickled body) and records what comes back and how the connection ends.
 * @module
 */
import { connect } from "node:net";
import type { Socket } from "node:net";

export interface RawClient {
  readonly socket: Socket;
  /** Everything received so far, as Latin-1 text. */
  received(): string;
  /** Settles once the connection is fully closed; `reset` when it ended with an error. */
  readonly closed: Promise<"end" | "reset">;
  /** Resolves once the received text matches `pattern`; rejects if the connection closes first. */
  receive(pattern: RegExp): Promise<string>;
  /** Writes `chunk` every `everyMs` until stopped or closed; returns the stop function. */
  trickle(chunk: string, everyMs: number): () => void;
}

/** Connects to 127.0.0.1:`port` and resolves once connected. */
export function openRaw(port: number): Promise<RawClient> {
  const socket = connect({ host: "127.0.0.1", port });
  let text = "";
  const waiters = new Set<() => void>();
  socket.on("data", (chunk: Buffer) => {
    text += chunk.toString("latin1");
    for (const wake of waiters) wake();
  });
  let failed = false;
  socket.on("error", () => (failed = true));
  const closed = new Promise<"end" | "reset">((resolve) =>
    socket.once("close", () => {
      for (const wake of waiters) wake();
      resolve(failed ? "reset" : "end");
    })
  );
  const client: RawClient = {
    socket,
    received: () => text,
    closed,
    receive(pattern) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(text);
          if (match) return (waiters.delete(check), resolve(match[0]));
          if (socket.destroyed) (waiters.delete(check), reject(new Error(`Connection closed before ${pattern} arrived; got "${text.slice(0, 200)}"`)));
        };
        waiters.add(check);
        check();
      });
    },
    trickle(chunk, everyMs) {
      const timer = setInterval(() => {
        if (!socket.destroyed && socket.writable) socket.write(chunk);
      }, everyMs);
      const stop = () => clearInterval(timer);
      socket.once("close", stop);
      return stop;
    },
  };
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(client));
    socket.once("error", reject);
  });
}

/** `promise`, or a rejection naming `what` if it has not settled within `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
