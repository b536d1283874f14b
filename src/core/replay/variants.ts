import type { DecodedItemTable } from '../bundle/index.ts';
import type { FeedRequest } from '../feed/index.ts';
import type { InterestOptions } from '../interests/index.ts';

/** One event the device saw, with the data set's indices (impressions and stand-ins included). */
export interface ReplayEvent {
  item: number;
  action: number;
  ts: number;
  /** True for a sampled non-engaged pin standing in for an impression the data set does not have. */
  standIn?: boolean;
}

/** A user at the window's start, as their device finds them. */
export interface ReplayUser {
  user: number;
  /** The bundle's item table (what a learner trains over). */
  table: DecodedItemTable;
  /** The server's long-term embedding as of the window's start (none for a user it had not seen). */
  longTerm?: Float32Array;
  /** Everything the user did before the window, oldest first. */
  history: readonly ReplayEvent[];
  /** The window's start: when the server computed `longTerm`. */
  from: number;
}

/** The device of one user during the replay: it shapes each request and may learn from what follows. */
export interface ReplayDevice {
  /** The request to run, from the replay's own (the engine's defaults and the device's local state). */
  request(base: FeedRequest): FeedRequest | Promise<FeedRequest>;
  /** What the user did after a request was answered (its session's events, time order). */
  observe?(events: readonly ReplayEvent[]): void | Promise<void>;
}

/**
 * A variant of what the device does, compared by the replay. On-device learning plugs in here: its
 * `start` builds a learner from the user's history and prior embedding, `observe` trains on the feedback,
 * and `request` puts what it learned into the query.
 */
export interface ReplayVariant {
  name: string;
  start(user: ReplayUser): ReplayDevice | Promise<ReplayDevice>;
}

const stateless = (name: string, shape: (base: FeedRequest) => FeedRequest): ReplayVariant => ({
  name,
  start: () => ({ request: shape }),
});

/** The server's long-term embedding alone: no encoder on the device (its ranker input is zeros). */
export const serverVariant = stateless('server', (base) => ({ ...base, realtime: false, longTermWeight: 1 }));

/** Today's engine: the compact encoder's real-time embedding blended with the long-term one. */
export const blendVariant = stateless('blend', (base) => ({ ...base, interests: 'single' }));

/** The blend plus PinnerSage interests, retrieved for in one batch and merged by importance quotas. */
export function multiVariant(options: Partial<InterestOptions> = {}, name = 'multi'): ReplayVariant {
  return stateless(name, (base) => ({ ...base, interests: 'multi', interestOptions: options }));
}

export const BUILT_IN_VARIANTS = ['server', 'blend', 'multi'] as const;
export type BuiltInVariant = (typeof BUILT_IN_VARIANTS)[number];

/** A built-in variant by name (the lab's replay tab; the CLI also parses settings and learning). */
export function builtInVariant(name: BuiltInVariant): ReplayVariant {
  return name === 'server' ? serverVariant : name === 'blend' ? blendVariant : multiVariant();
}
