import type { BundleCatalog, DecodedItemTable, RankerHead } from '../bundle/index.ts';
import type { InterestOptions } from '../interests/index.ts';
import type { UserActionCounts } from '../ranking/index.ts';
import type { ExclusionBitset } from '../retrieval/index.ts';
import type { ActionWindow } from '../sequence/index.ts';

/** One of the user's local actions on an item the bundle knows (code as in ACTION_CODE). */
export interface FeedAction {
  item: number;
  action: number;
  /** ms since the epoch (NaN where the data has no clock). */
  ts: number;
}

/** The ranker's inputs for `size` candidates, row-major (the names of the exported ranker graph). */
export interface RankerInputs {
  size: number;
  dim: number;
  userLong: Float32Array;
  userShort: Float32Array;
  item: Float32Array;
  context: Float32Array;
  /** The user's actions, oldest first, as the encoder read them: an early-fusion ranker attends over them. */
  window: ActionWindow;
}

/**
 * The model runners the pipeline is given: the engine's (ORT in the worker, WebGPU/WASM retrieval) or
 * the replay's (onnxruntime-node, the exact CPU scan). Each is async so a GPU or a worker can stand behind.
 */
export interface FeedRunners {
  /** The compact encoder over the newest actions of `window`: the real-time user embedding. */
  encode(window: ActionWindow): Promise<Float32Array | undefined>;
  /** The top `n` rows for each query (one batch), best first; excluded rows never come back. */
  retrieve(queries: Float32Array[], n: number, exclude: ExclusionBitset): Promise<Int32Array[]>;
  /** Per-head probabilities, [size × heads] in RANKER_HEADS order. */
  rank(inputs: RankerInputs): Promise<Float32Array>;
}

/** What the pipeline reads of a bundle version (and of the item statistics of its snapshot). */
export interface FeedModel {
  table: DecodedItemTable;
  catalog: Pick<BundleCatalog, 'titles' | 'topics'>;
  /** Item statistics for the ranker's context (the catalog's, or a replay window's snapshot). */
  stats: Pick<BundleCatalog, 'positives' | 'impressions' | 'firstSeen'>;
  /** Items by popularity, best first: the feed of a user with no embedding at all. */
  popular: Int32Array;
}

export type InterestMode = 'single' | 'multi';

export interface FeedRequest {
  k: number;
  /** The user's local non-impression actions on known items, oldest first. */
  actions: readonly FeedAction[];
  /** Items the user hid (never shown again). */
  hidden: Iterable<number>;
  /** Items never to return, on top of hidden ones and (unless `includeSeen`) those acted on. */
  exclude?: Iterable<number>;
  includeSeen?: boolean;
  /** The server's long-term embedding, in this bundle's item space. */
  longTerm?: Float32Array;
  /** Weight of `longTerm` against the real-time embedding when both exist. */
  longTermWeight: number;
  /** Run the compact encoder (default true); false = the server's embedding alone. */
  realtime?: boolean;
  /** The user's action counts before this request (the ranker's context). */
  counts: UserActionCounts;
  /** The request time (ms): the ranker's item-age feature. */
  now: number;
  weights: Record<RankerHead, number>;
  /** MMR λ in [0, 1]. */
  diversity: number;
  /** Candidates retrieval hands the ranker (at least k). */
  candidates: number;
  /** `multi`: PinnerSage interests retrieved for alongside the single embedding (default single). */
  interests?: InterestMode;
  interestOptions?: Partial<InterestOptions>;
}

export type ReasonKind = 'recent' | 'interest' | 'popular';

export interface FeedReason {
  kind: ReasonKind;
  text: string;
  /** The pin the reason names: a recent action's, or an interest's medoid. */
  item?: number;
}

export interface FeedItem {
  item: number;
  utility: number;
  probabilities: Record<RankerHead, number>;
  reason: FeedReason;
}

export interface FeedResult {
  items: FeedItem[];
  /** The single retrieval query; undefined when the feed came from popularity. */
  query?: Float32Array;
  /** The real-time (encoder) embedding, when computed. */
  short?: Float32Array;
  /** Interests retrieved for (multi only), most important first: medoid items and importances. */
  interests: { medoid: number; importance: number; size: number }[];
}

/** Stage boundaries, for callers that time them (the pipeline itself never reads a clock). */
export type FeedStage = 'encode' | 'retrieve' | 'rank' | 'rerank';
