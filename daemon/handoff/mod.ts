/**
 * The two-phase, receiver-initiated hand-off: pure state machines for each side
 * (`source.ts`, `destination.ts`), one runner (`runner.ts`), the destination's pull (`pull.ts`)
 * and the holder's sessions (`serve.ts`); many hand-offs to one holder travel as one
 * `handoff.batch` (`batch.ts` on the holder, `batch-peer.ts` on the destination). See
 * docs/protocol.md.
 * @module
 */
export { pull, resolveInDoubt, META_HEADER } from "./pull.ts";
export { PRECOPY_HEADER } from "./precopy.ts";
export type { PullOutcome, PullRequest } from "./pull.ts";
export { SourceHandoffs } from "./serve.ts";
export { encodeFrame, errorFrame, FrameReader, serveBatch } from "./batch.ts";
export type { BatchHolder, BatchItem } from "./batch.ts";
export { BatchingPeer } from "./batch-peer.ts";
export { checkBegin, nextSource } from "./source.ts";
export type { BeginFacts, BeginRequest, SourceEffect, SourceInput, SourcePhase } from "./source.ts";
export { nextDestination, resumeInDoubt, startPull } from "./destination.ts";
export type { DestinationEffect, DestinationInput, DestinationPhase } from "./destination.ts";
export { runMachine } from "./runner.ts";
export type { EffectPolicy, Machine, Performer, Step } from "./runner.ts";
export type { DestinationPort, HandoffSettings, PeerPort, SourcePort } from "./ports.ts";
