/**
 * Every row of docs/protocol.md's failure table, in one process: the real hand-off machines,
 * runner, pull and holder sessions, between two in-memory nodes whose journals survive a crash
 * and whose processes do not. A crash is injected between two effects; the node then restarts
 * from its journal alone. Throughout, a world-wide check fails the test if the process ever runs
 * on two nodes at once, and at the end its state must be exactly the state it was suspended with.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { FerryError } from "../../../daemon/errors.ts";
import { pull, resolveInDoubt, SourceHandoffs } from "../../../daemon/handoff/mod.ts";
import type { DestinationPort, PeerPort, SourcePort } from "../../../daemon/handoff/mod.ts";
import type { BeginFacts, BeginRequest } from "../../../daemon/handoff/source.ts";
import type { Arrival } from "../../../daemon/node/mod.ts";
import type { HandoffMeta, HandoffStatusResponse } from "../../../schemas/api.schema.ts";

type Record =
  | { op: "own"; name: string; generation: number }
  | { op: "prepared"; name: string; generation: number; from: string; handoffId: string }
  | { op: "released"; name: string; generation: number; to: string; handoffId: string }
  | { op: "aborted"; name: string; handoffId: string }
  | { op: "checkpoint"; name: string; generation: number; state: string };

interface Proc {
  state: "running" | "suspending" | "migrating" | "held" | "completed" | "failed";
  count: number;
  generation: number;
  error: string | null;
  outgoing?: { handoffId: string; to: string };
  incoming?: { handoffId: string; from: string };
}

class Crash extends Error {}

/** Watches every node: the process must never run on two at once. */
class World {
  readonly nodes = new Map<string, SimNode>();
  violations: string[] = [];
  /** Network faults: the next answer of this message type is lost after the callee acted. */
  dropAnswer = new Set<string>();
  breakTransfer = false;

  check(): void {
    const running = [...this.nodes.values()].filter((n) => n.alive && n.procs.get("p")?.state === "running").map((n) => n.name);
    if (running.length > 1) this.violations.push(`running on ${running.join(" and ")}`);
  }

  peerOf(target: string): PeerPort {
    const world = this;
    const node = () => {
      const n = world.nodes.get(target);
      if (!n?.alive) throw new FerryError("unreachable", `Cannot reach node "${target}"`);
      return n;
    };
    const answer = <T>(type: string, value: T): T => {
      if (world.dropAnswer.delete(type)) throw new FerryError("unreachable", `The answer to ${type} was lost`);
      return value;
    };
    /** A node that crashed while handling a request never answers it. */
    const call = async <T>(n: SimNode, work: () => Promise<T>): Promise<T> => {
      try {
        const value = await work();
        if (!n.alive) throw new Crash("down");
        return value;
      } catch (error) {
        if (!n.alive) throw new FerryError("unreachable", `Node "${target}" went down before answering`);
        throw error;
      }
    };
    return {
      name: target,
      async post(type: string, body: Record_) {
        const n = node();
        switch (type) {
          case "handoff.commit":
            return answer(type, await call(n, () => n.handoffs.commit(body as never)));
          case "handoff.abort":
            return answer(type, await call(n, () => n.handoffs.abort(body as never)));
          case "handoff.status":
            return answer(type, await call(n, () => n.handoffs.status(body as never)));
          default:
            throw new Error(`unexpected ${type}`);
        }
      },
      async postForBytes(_type: string, body: Record_) {
        const n = node();
        const { snapshot, meta } = await call(n, () => n.handoffs.begin(body as never));
        if (world.breakTransfer) {
          world.breakTransfer = false;
          n.handoffs.streamBroken(String(body.name), String(body.handoffId));
          throw new FerryError("unreachable", "Transfer broke off");
        }
        const headers = new Headers({ "ferry-handoff": JSON.stringify(meta) });
        return answer("handoff.begin", { bytes: snapshot, headers });
      },
      async postForStream(this: { postForBytes(type: string, body: Record_): Promise<{ bytes: Uint8Array; headers: Headers }> }, type: string, body: Record_) {
        const { bytes, headers } = await this.postForBytes(type, body);
        return { headers, length: bytes.byteLength, chunks: (async function* () { yield bytes; })() };
      },
    } as unknown as PeerPort;
  }
}
type Record_ = { [key: string]: unknown };

const settings = { handoffTimeoutMs: 200, suspendDeadlineMs: 100, stallMs: 1000, maxTransferMb: 16 };

/** A node whose journal (and checkpoints in it) is durable and whose processes are not. */
class SimNode implements SourcePort, DestinationPort {
  readonly settings = settings;
  readonly events = { emit: () => ({}) as never };
  readonly trace = { mark: () => {} };
  journal: Record[] = [];
  procs = new Map<string, Proc>();
  alive = true;
  handoffs: SourceHandoffs;
  /** Where cluster.yaml places "p", as this node read it. */
  placement: string | undefined;
  /** Crash when this effect point is reached ("suspend:after", "prepare:after", ...). */
  crashAt: string | undefined;
  /** Make this effect throw that error instead. */
  failAt = new Map<string, unknown>();
  notes: string[] = [];

  constructor(readonly world: World, readonly name: string, readonly node = name) {
    world.nodes.set(name, this);
    this.handoffs = new SourceHandoffs(this);
  }

  point(label: string): void {
    if (!this.alive) throw new FerryError("unreachable", `node ${this.name} is down`);
    const failure = this.failAt.get(label);
    if (failure) {
      this.failAt.delete(label);
      throw failure;
    }
    if (this.crashAt === label) {
      this.crashAt = undefined;
      this.alive = false;
      this.procs.clear();
      this.world.check();
      throw new Crash(`${this.name} crashed at ${label}`);
    }
  }

  set(name: string, p: Proc): void {
    this.procs.set(name, p);
    this.world.check();
  }

  /** Restarts from the journal: owned processes resume from their latest checkpoint. */
  restart(): void {
    this.alive = true;
    this.procs.clear();
    this.handoffs = new SourceHandoffs(this);
    for (const [name, owned] of this.owned()) {
      if (owned.status !== "own") continue;
      const cp = this.checkpoint(name, owned.generation);
      this.set(name, { state: "running", count: cp ? JSON.parse(cp).count : 0, generation: owned.generation, error: null });
    }
  }

  owned(): Map<string, { status: "own" | "prepared"; generation: number; from?: string; handoffId?: string }> {
    const out = new Map<string, { status: "own" | "prepared"; generation: number; from?: string; handoffId?: string }>();
    for (const r of this.journal) {
      if (r.op === "own") out.set(r.name, { status: "own", generation: r.generation });
      if (r.op === "prepared") out.set(r.name, { status: "prepared", generation: r.generation, from: r.from, handoffId: r.handoffId });
      if (r.op === "released") out.delete(r.name);
      if (r.op === "aborted" && out.get(r.name)?.handoffId === r.handoffId) out.delete(r.name);
    }
    return out;
  }

  checkpoint(name: string, generation: number): string | undefined {
    return this.journal.filter((r): r is Extract<Record, { op: "checkpoint" }> => r.op === "checkpoint" && r.name === name && r.generation === generation).at(-1)?.state;
  }

  start(count: number, generation = 0): void {
    this.journal.push({ op: "own", name: "p", generation }, { op: "checkpoint", name: "p", generation, state: JSON.stringify({ count }) });
    this.set("p", { state: "running", count, generation, error: null });
  }

  // -------------------------------------------------------------- SourcePort

  async reloadConfig(): Promise<void> {}

  outgoing = {
    facts: (name: string, to: string, reloaded: boolean): BeginFacts => {
      const p = this.procs.get(name);
      return { node: this.name, name, closing: false, state: p?.state, generation: p?.generation, hosted: p !== undefined, busy: !!(p?.outgoing || p?.incoming), lastError: p?.error ?? null, placed: this.placement === to, reloaded };
    },
    suspend: async (name: string, req: BeginRequest): Promise<Uint8Array> => {
      this.point("suspend:before");
      const p = this.procs.get(name)!;
      const failure = this.failAt.get("suspend");
      if (failure) {
        this.failAt.delete("suspend");
        p.error = String((failure as Error).message);
        throw failure;
      }
      p.state = "suspending";
      p.outgoing = { handoffId: req.handoffId, to: req.to };
      this.world.check();
      return new TextEncoder().encode(JSON.stringify({ count: p.count }));
    },
    saveAtSuspend: async (name: string, _id: string, snapshot: Uint8Array): Promise<void> => {
      this.point("save:before");
      const p = this.procs.get(name)!;
      this.journal.push({ op: "checkpoint", name, generation: p.generation, state: new TextDecoder().decode(snapshot) });
      p.state = "migrating";
      this.point("save:after");
    },
    meta: (name: string, _id: string, timing: { receivedAt: number; serveMs: number }): HandoffMeta => ({ module: "M", args: [], migrations: this.procs.get(name)!.generation, preludeMs: 0, serveMs: timing.serveMs, completed: false }),
    release: async (name: string, handoffId: string): Promise<void> => {
      this.point("release:before");
      const p = this.procs.get(name)!;
      this.journal.push({ op: "released", name, generation: p.generation, to: p.outgoing!.to, handoffId });
      this.procs.delete(name);
      this.world.check();
      this.point("release:after");
    },
    journalAborted: async (name: string, handoffId: string): Promise<void> => {
      this.point("abort:before");
      this.journal.push({ op: "aborted", name, handoffId });
    },
    resume: async (name: string, _id: string, reason: string): Promise<void> => {
      this.point("resume:before");
      const p = this.procs.get(name)!;
      p.outgoing = undefined;
      p.state = "running";
      p.error = `rolled back: ${reason}`;
      this.world.check();
    },
    status: async (name: string, handoffId: string): Promise<HandoffStatusResponse> => {
      this.point("status");
      const released = this.journal.find((r) => r.op === "released" && r.name === name && r.handoffId === handoffId);
      if (released) return { outcome: "committed", generation: (released as { generation: number }).generation };
      if (this.journal.some((r) => r.op === "aborted" && r.handoffId === handoffId)) return { outcome: "aborted" };
      if (this.procs.get(name)?.outgoing?.handoffId === handoffId) return { outcome: "pending" };
      return { outcome: "unknown" };
    },
    released: (name: string, handoffId: string): boolean => this.journal.some((r) => r.op === "released" && r.name === name && r.handoffId === handoffId),
  } as unknown as SourcePort["outgoing"];

  // -------------------------------------------------------------- DestinationPort

  hold = async (arrival: Arrival, bytes: Uint8Array): Promise<void> => {
    this.point("hold:before");
    const { count } = JSON.parse(new TextDecoder().decode(bytes)) as { count: number };
    this.set(arrival.name, { state: "held", count, generation: arrival.generation + 1, error: null, incoming: { handoffId: arrival.handoffId, from: arrival.from } });
  };

  prepare = async (arrival: Arrival, bytes: Uint8Array): Promise<void> => {
    this.point("prepare:before");
    const generation = arrival.generation + 1;
    this.journal.push(
      { op: "checkpoint", name: arrival.name, generation, state: new TextDecoder().decode(bytes) },
      { op: "prepared", name: arrival.name, generation, from: arrival.from, handoffId: arrival.handoffId },
    );
    this.point("prepare:after");
  };

  peer(node: string): PeerPort | undefined {
    return this.world.peerOf(node);
  }

  noteAcquiring(_name: string, reason: string | null): void {
    if (reason) this.notes.push(reason);
  }

  incoming = {
    expect: (): void => {},
    store: (arrival: Arrival, bytes: Uint8Array): [Promise<void>, Promise<void>] => [this.hold(arrival, bytes), this.prepare(arrival, bytes)],
    activate: async (name: string): Promise<boolean> => {
      this.point("activate:before");
      const owned = this.owned().get(name)!;
      this.journal.push({ op: "own", name, generation: owned.generation });
      const p: Proc = this.procs.get(name) ?? { state: "held", count: JSON.parse(this.checkpoint(name, owned.generation)!).count, generation: owned.generation, error: null };
      p.incoming = undefined;
      p.state = "running";
      this.set(name, p);
      return true;
    },
    drop: async (name: string, handoffId: string, prepared: boolean): Promise<void> => {
      this.point("drop:before");
      if (prepared || this.owned().get(name)?.handoffId === handoffId) this.journal.push({ op: "aborted", name, handoffId });
      this.procs.delete(name);
    },
    inDoubt: (name: string) => {
      const owned = this.owned().get(name);
      return owned?.status === "prepared" ? { from: owned.from!, handoffId: owned.handoffId!, generation: owned.generation } : undefined;
    },
    progress: () => {},
    clearProgress: () => {},
  } as unknown as DestinationPort["incoming"];
}

function pair(count = 7) {
  const world = new World();
  const a = new SimNode(world, "alpha");
  const b = new SimNode(world, "beta");
  a.start(count);
  a.placement = "beta";
  b.placement = "beta";
  return { world, a, b };
}

/** Waits until `check` holds (the holder's timeout runs on a timer). */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function rejects(work: () => Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await work();
  } catch (error) {
    assert.match((error as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected a rejection matching ${pattern}`);
}

const runsOn = (world: World, node: string, count: number) => {
  const p = world.nodes.get(node)!.procs.get("p");
  return p?.state === "running" && p.count === count;
};

test("a pull that goes through moves the process with its state, generation +1", async () => {
  const { world, a, b } = pair();
  const outcome = await pull(b, { name: "p", from: "alpha", generation: 0 });
  assert.is(outcome.phase, "running");
  assert.ok(runsOn(world, "beta", 7));
  assert.is(b.procs.get("p")!.generation, 1);
  assert.not.ok(a.procs.has("p"));
  assert.ok(a.journal.some((r) => r.op === "released"));
  assert.equal(world.violations, []);
});

test("the holder cannot be reached at begin: nothing is prepared and the pull is retryable", async () => {
  const { world, a, b } = pair();
  a.alive = false;
  const outcome = await pull(b, { name: "p", from: "alpha", generation: 0 });
  assert.equal(outcome.phase === "rolled-back" && outcome.retryable, true);
  assert.equal(b.journal, []);
  a.alive = true;
  assert.ok(runsOn(world, "alpha", 7));
});

test("a suspend that reaches no safe point fails the pull; the process keeps running on the source", async () => {
  const { world, a, b } = pair();
  a.failAt.set("suspend", new FerryError("suspend_timeout", "no safe point"));
  const outcome = await pull(b, { name: "p", from: "alpha", generation: 0 });
  assert.is(outcome.phase, "rolled-back");
  assert.match(outcome.phase === "rolled-back" ? outcome.reason : "", /no safe point/);
  assert.ok(runsOn(world, "alpha", 7));
  assert.equal(b.journal, []);
});

test("a field that cannot be serialized ends the pull terminally (not retryable), the source runs on", async () => {
  const { world, a, b } = pair();
  a.failAt.set("suspend", new FerryError("not_serializable", 'Field "f" holds a function'));
  const outcome = await pull(b, { name: "p", from: "alpha", generation: 0 });
  assert.equal(outcome.phase === "rolled-back" && outcome.retryable, false);
  assert.ok(runsOn(world, "alpha", 7));
});

test("the link breaks mid-transfer: the source rolls back at once, the destination holds nothing", async () => {
  const { world, a, b } = pair();
  world.breakTransfer = true;
  const outcome = await pull(b, { name: "p", from: "alpha", generation: 0 });
  assert.is(outcome.phase, "rolled-back");
  await until(() => runsOn(world, "alpha", 7), "the rollback on alpha");
  assert.ok(a.journal.some((r) => r.op === "aborted"));
  assert.equal(b.journal, []);
  assert.equal(world.violations, []);
});

test("the destination cannot load the module: it drops the snapshot, the source resumes with the reason", async () => {
  const { world, a, b } = pair();
  b.failAt.set("hold:before", new FerryError("module_invalid", "SyntaxError in M.ts"));
  const outcome = await pull(b, { name: "p", from: "alpha", generation: 0 });
  assert.is(outcome.phase, "rolled-back");
  await until(() => runsOn(world, "alpha", 7), "the rollback on alpha");
  assert.match(a.procs.get("p")!.error ?? "", /refused it: SyntaxError/);
  // It was journalled `prepared` while the executor failed to load it, then cancelled.
  assert.ok(b.journal.some((r) => r.op === "aborted"), "the prepared record was not cancelled");
  assert.not.ok(b.incoming.inDoubt("p"));
  b.restart();
  assert.not.ok(b.incoming.inDoubt("p"));
  assert.not.ok(b.procs.has("p"));
});

test("the destination cannot write its journal (disk full): it refuses to prepare, the source resumes", async () => {
  const { world, a, b } = pair();
  b.failAt.set("prepare:before", new FerryError("storage_failed", "Cannot write the journal: ENOSPC"));
  const outcome = await pull(b, { name: "p", from: "alpha", generation: 0 });
  assert.match(outcome.phase === "rolled-back" ? outcome.reason : "", /cannot store it: .*ENOSPC/);
  await until(() => runsOn(world, "alpha", 7), "the rollback on alpha");
  assert.match(a.procs.get("p")!.error ?? "", /ENOSPC/);
  assert.not.ok(b.procs.has("p"));
  assert.equal(world.violations, []);
});

test("the destination crashes after prepared: the source rolls back on its timeout; the restarted destination drops its copy", async () => {
  const { world, a, b } = pair();
  b.crashAt = "prepare:after";
  await pull(b, { name: "p", from: "alpha", generation: 0 }).catch((e) => assert.instance(e, Crash));
  await until(() => runsOn(world, "alpha", 7), "the timeout's rollback on alpha");
  assert.ok(a.journal.some((r) => r.op === "aborted"), "the rollback was not journalled");
  b.restart();
  assert.ok(b.incoming.inDoubt("p"));
  const outcome = await resolveInDoubt(b, "p");
  assert.is(outcome.phase, "rolled-back");
  assert.not.ok(b.incoming.inDoubt("p"));
  assert.not.ok(b.procs.has("p"));
  assert.ok(runsOn(world, "alpha", 7));
  assert.equal(world.violations, []);
});

test("the commit's answer is lost: the destination is in doubt, asks, learns it committed and runs it", async () => {
  const { world, a, b } = pair();
  world.dropAnswer.add("handoff.commit");
  const outcome = await pull(b, { name: "p", from: "alpha", generation: 0 });
  assert.is(outcome.phase, "running");
  assert.ok(runsOn(world, "beta", 7));
  assert.not.ok(a.procs.has("p"));
  assert.equal(world.violations, []);
});

test("the source is killed after sending, before the commit: its restart resumes the suspended state; the destination drops its copy", async () => {
  const { world, a, b } = pair();
  a.crashAt = "release:before";
  const first = await pull(b, { name: "p", from: "alpha", generation: 0 });
  // The commit went unanswered and nobody answers the status either: the copy never runs.
  assert.is(first.phase, "waiting");
  assert.is(b.procs.get("p")?.state, "held");
  a.restart();
  assert.ok(runsOn(world, "alpha", 7));
  const second = await resolveInDoubt(b, "p");
  assert.is(second.phase, "rolled-back");
  assert.not.ok(b.procs.has("p"));
  assert.equal(world.violations, []);
});

test("the source is killed after journalling the release, before answering: the destination learns it committed and runs it", async () => {
  const { world, a, b } = pair();
  a.crashAt = "release:after";
  const first = await pull(b, { name: "p", from: "alpha", generation: 0 });
  assert.is(first.phase, "waiting");
  a.restart();
  assert.not.ok(a.procs.has("p"));
  const second = await resolveInDoubt(b, "p");
  assert.is(second.phase, "running");
  assert.ok(runsOn(world, "beta", 7));
  assert.equal(world.violations, []);
});

test("the destination is killed after the commit was acknowledged: its restart resumes from the prepared snapshot", async () => {
  const { world, a, b } = pair();
  b.crashAt = "activate:before";
  await pull(b, { name: "p", from: "alpha", generation: 0 }).catch((e) => assert.instance(e, Crash));
  assert.not.ok(a.procs.has("p"));
  b.restart();
  const outcome = await resolveInDoubt(b, "p");
  assert.is(outcome.phase, "running");
  assert.ok(runsOn(world, "beta", 7));
  assert.equal(world.violations, []);
});

test("stale and replayed messages are refused: wrong generation, unknown hand-off, a commit after a rollback", async () => {
  const { world, a } = pair();
  await rejects(() => a.handoffs.begin({ name: "p", generation: 5, to: "beta", handoffId: "h-stale-0001" }), /generation 5, but it is at 0/);
  await rejects(() => a.handoffs.commit({ name: "p", generation: 0, handoffId: "h-unknown-01" }), /not pending here/);
  assert.equal(await a.handoffs.abort({ name: "p", generation: 0, handoffId: "h-unknown-01", reason: "x" }), { ok: true });
  const { snapshot } = await a.handoffs.begin({ name: "p", generation: 0, to: "beta", handoffId: "h-real-00001" });
  assert.ok(snapshot.byteLength > 0);
  await a.handoffs.abort({ name: "p", generation: 0, handoffId: "h-real-00001", reason: "changed my mind" });
  await rejects(() => a.handoffs.commit({ name: "p", generation: 0, handoffId: "h-real-00001" }), /not pending here/);
  assert.ok(runsOn(world, "alpha", 7));
});

test("a begin the holder's cluster.yaml does not place on the requester is refused, after re-reading it", async () => {
  const { world, a } = pair();
  a.placement = "gamma";
  let reloaded = 0;
  a.reloadConfig = async () => {
    reloaded++;
  };
  await rejects(() => a.handoffs.begin({ name: "p", generation: 0, to: "beta", handoffId: "h-moved-0001" }), /does not place "p" on node "beta"/);
  assert.is(reloaded, 1);
  assert.ok(runsOn(world, "alpha", 7));
});

test("a commit that arrives while the holder's timeout rolls back finds it rolled back, and the destination drops its copy", async () => {
  const { world, a, b } = pair();
  const slow = { ...settings, handoffTimeoutMs: 1 };
  (a as { settings: typeof settings }).settings = slow;
  const prepare = b.prepare;
  b.prepare = async (arrival, bytes) => {
    await new Promise((r) => setTimeout(r, 30));
    return prepare(arrival, bytes);
  };
  const outcome = await pull(b, { name: "p", from: "alpha", generation: 0 });
  assert.is(outcome.phase, "rolled-back");
  assert.ok(runsOn(world, "alpha", 7));
  assert.not.ok(b.procs.has("p"));
  assert.equal(world.violations, []);
});

test.run();
