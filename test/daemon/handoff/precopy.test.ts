import { test } from "uvu";
import * as assert from "uvu/assert";
import { expectedDowntimeMs, isPrecopyTerminal, nextPrecopy, type PrecopyPhase, type PrecopyPolicy, type RoundStat, startPrecopy, wantsPrecopy } from "../../../daemon/handoff/precopy.ts";
import { FerryError } from "../../../daemon/errors.ts";

const MiB = 1024 * 1024;
const policy = { maxDowntimeMs: 100, strict: false };

function stat(round: number, over: Partial<RoundStat> = {}): RoundStat {
  return { round, dirtyBytes: MiB, sentBytes: MiB, totalBytes: 256 * MiB, complete: true, captureMs: 20, wallMs: 30, ...over };
}

/** Feeds rounds until the machine stops asking for one; returns the end step's effect and phase. */
function feed(stats: RoundStat[], p: PrecopyPolicy = policy) {
  let step = startPrecopy();
  const asked: number[] = [];
  for (const s of stats) {
    if (step.effect?.type !== "request-round") break;
    asked.push(step.effect.after);
    step = nextPrecopy(step.phase, { type: "round", stat: s }, p);
  }
  return { step, asked };
}

test("small states are not pre-copied; large ones are, and an unknown size is not", () => {
  assert.not.ok(wantsPrecopy({ name: "x", from: "a", generation: 0, stateBytes: 1024 }));
  assert.ok(wantsPrecopy({ name: "x", from: "a", generation: 0, stateBytes: 256 * MiB }));
  assert.not.ok(wantsPrecopy({ name: "x", from: "a", generation: 0 }));
});

test("each round builds on the last; incomplete first rounds go on; a remainder that fits the budget stages the base, catches up once more, then switches over", () => {
  const { step: converged, asked } = feed([
    stat(0, { complete: false, sentBytes: 32 * MiB, dirtyBytes: 256 * MiB, wallMs: 320, captureMs: 20 }),
    stat(1, { complete: true, sentBytes: 32 * MiB, dirtyBytes: 40 * MiB, wallMs: 320, captureMs: 20 }),
    stat(2, { sentBytes: 2 * MiB, dirtyBytes: 2 * MiB, wallMs: 40, captureMs: 20 }),
  ]);
  assert.equal(asked, [-1, 0, 1]);
  assert.equal(converged.effect, { type: "stage" });
  const again = nextPrecopy(converged.phase, { type: "staged" }, policy);
  assert.equal(again.effect, { type: "request-round", after: 2 });
  const step = nextPrecopy(again.phase, { type: "round", stat: stat(3, { sentBytes: MiB, dirtyBytes: MiB, wallMs: 30, captureMs: 20 }) }, policy);
  assert.is(step.effect?.type, "end");
  assert.equal(step.phase.phase === "ending" && [step.phase.outcome, step.phase.after, step.phase.rounds], ["switchover", 3, 4]);
  const done = nextPrecopy(step.phase, { type: "ended" }, policy).phase;
  assert.ok(isPrecopyTerminal(done));
  assert.equal(done.phase === "switchover" && [done.after, done.reason], [3, undefined]);
});

test("the expected downtime is the capture plus the remainder at the measured rate", () => {
  assert.is(expectedDowntimeMs({ captureMs: 20, dirtyBytes: 1e6 }, 1e5), 30);
  // 100 MiB/s measured (32 MiB in 320 ms of transfer), then 12 MiB changing: 20 + 120 ms > 100.
  const { step } = feed([
    stat(0, { sentBytes: 32 * MiB, dirtyBytes: 32 * MiB, wallMs: 340, captureMs: 20 }),
    stat(1, { sentBytes: 12 * MiB, dirtyBytes: 12 * MiB, wallMs: 140, captureMs: 20 }),
  ]);
  assert.equal(step.effect, { type: "request-round", after: 1 });
});

function diverging(strict: boolean) {
  const rounds = Array.from({ length: 10 }, (_, i) => stat(i, { sentBytes: 64 * MiB, dirtyBytes: 64 * MiB, wallMs: 660, captureMs: 20 }));
  return feed(rounds, { maxDowntimeMs: 100, strict });
}

test("a delta that stops shrinking ends the pre-copy: strict rolls back, saying why", () => {
  const { step, asked } = diverging(true);
  assert.ok(asked.length <= 5, `asked ${asked.length} rounds`);
  assert.is(step.effect?.type, "end");
  const end = step.effect?.type === "end" ? step.effect : undefined;
  assert.is(end?.outcome, "rolled-back");
  assert.match(end?.reason ?? "", /pre-copy does not converge: after \d+ rounds 64 MiB still change per round .* about 660 ms \(maxDowntimeMs 100\); strict: true/);
  const done = nextPrecopy(step.phase, { type: "ended" }, policy).phase;
  assert.equal(done.phase, "rolled-back");
});

test("a delta that stops shrinking, not strict: the switchover goes ahead with the expected downtime and the reason", () => {
  const { step } = diverging(false);
  const end = step.effect?.type === "end" ? step.effect : undefined;
  assert.is(end?.outcome, "switchover");
  assert.is(Math.round(end?.expectedMs ?? 0), 660);
  const done = nextPrecopy(step.phase, { type: "ended" }, policy).phase as Extract<PrecopyPhase, { phase: "switchover" }>;
  assert.is(done.phase, "switchover");
  assert.match(done.reason ?? "", /does not converge/);
});

test("a bounded number of rounds, even while the delta still shrinks slowly", () => {
  // Shrinking by 15% a round at 100 MiB/s: it would take many more rounds to fit 100 ms.
  const rounds = Array.from({ length: 50 }, (_, i) => {
    const bytes = Math.round(200 * 0.85 ** i) * MiB;
    return stat(i, { sentBytes: bytes, dirtyBytes: bytes, wallMs: 20 + bytes / (100 * MiB / 1000), captureMs: 20 });
  });
  const { step, asked } = feed(rounds, { maxDowntimeMs: 100, strict: true, maxRounds: 6 });
  assert.is(asked.length, 6);
  assert.is(step.effect?.type === "end" && step.effect.outcome, "rolled-back");
});

test("a failed round abandons the pre-copy: the hand-off moves the whole state instead", () => {
  let step = startPrecopy();
  step = nextPrecopy(step.phase, { type: "round", stat: stat(0, { complete: false, dirtyBytes: 100 * MiB }) }, policy);
  step = nextPrecopy(step.phase, { type: "round-failed", error: new FerryError("unreachable", "Node \"alpha\" is unreachable") }, policy);
  assert.is(step.effect?.type === "end" && step.effect.outcome, "abandoned");
  const done = nextPrecopy(step.phase, { type: "ended" }, policy).phase;
  assert.equal(done.phase, "abandoned");
  assert.match(done.phase === "abandoned" ? done.reason : "", /unreachable/);
});

test("an input the phase cannot take is a bug, not a decision", () => {
  assert.throws(() => nextPrecopy(startPrecopy().phase, { type: "ended" }, policy), /cannot take "ended"/);
});

test.run();
