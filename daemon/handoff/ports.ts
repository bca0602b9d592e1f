/**
 * What the hand-off needs of a node, as narrow interfaces: the node state satisfies them, and the
 * protocol tests satisfy them with in-memory nodes that can crash between any two effects.
 * @module
 */
import type { ApiClient } from "../api/client.ts";
import type { EventLog } from "../events.ts";
import type { Incoming } from "../node/incoming.ts";
import type { Outgoing } from "../node/outgoing.ts";
import type { ClusterSettings } from "../../schemas/cluster.schema.ts";
import type { Trace } from "../trace.ts";

/** The settings a hand-off reads. */
export type HandoffSettings = Pick<ClusterSettings, "handoffTimeoutMs" | "suspendDeadlineMs" | "stallMs" | "maxTransferMb">;

/** A peer as the destination talks to it. */
export type PeerPort = Pick<ApiClient, "name" | "post" | "postForBytes" | "postForStream">;

/** The holder's side. */
export interface SourcePort {
  readonly settings: HandoffSettings;
  readonly outgoing: Pick<Outgoing, "facts" | "suspend" | "saveAtSuspend" | "meta" | "release" | "journalAborted" | "resume" | "status" | "released">;
  readonly events: Pick<EventLog, "emit">;
  readonly trace: Pick<Trace, "mark">;
  reloadConfig(): Promise<void>;
}

/** The receiving side. */
export interface DestinationPort {
  readonly node: string;
  readonly settings: HandoffSettings;
  readonly incoming: Pick<Incoming, "expect" | "store" | "activate" | "drop" | "inDoubt" | "progress" | "clearProgress" | "stage">;
  readonly trace: Pick<Trace, "mark">;
  peer(node: string): PeerPort | undefined;
  noteAcquiring(name: string, reason: string | null): void;
  /** The process's entry in cluster.yaml: its pre-copy policy (`maxDowntimeMs`, `strict`). */
  desired?(name: string): { maxDowntimeMs?: number; strict?: boolean } | undefined;
}
