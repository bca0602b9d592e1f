/**
 * The two-phase, receiver-initiated hand-off: pure state machines for each side
 * (`source.ts`, `destination.ts`), one runner (`runner.ts`), the destination's pull (`pull.ts`)
 * and the holder's sessions (`serve.ts`). See docs/protocol.md.
 * @module
 */
export { pull, resolveInDoubt, META_HEADER } from "./pull.ts";
export { PRECOPY_HEADER } from "./precopy.ts";
export type { PullOutcome, PullRequest } from "./pull.ts";
export { SourceHandoffs } from "./serve.ts";
export { checkBegin, nextSource } from "./source.ts";
export type { BeginFacts, BeginRequest, SourceEffect, SourceInput, SourcePhase } from "./source.ts";
export { nextDestination, resumeInDoubt, startPull } from "./destination.ts";
export type { DestinationEffect, DestinationInput, DestinationPhase } from "./destination.ts";
export { runMachine } from "./runner.ts";
export type { EffectPolicy, Machine, Performer, Step } from "./runner.ts";
export type { DestinationPort, HandoffSettings, PeerPort, SourcePort } from "./ports.ts";
