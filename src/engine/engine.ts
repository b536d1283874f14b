import {
  Bundle,
  type BundleCatalog,
  type BundleManifest,
  type BundleSource,
  type DecodedItemTable,
  type FileRef,
  type ModelEntry,
  RANKER_HEADS,
  type RankerHead,
} from '../core/bundle/index.ts';
import { ACTION_CODE, type Event, validateEvent } from '../core/events.ts';
import { CONTEXT_DIM, contextFeatures, mmrSelect, utility } from '../core/ranking/index.ts';
import { exclusionBitset } from '../core/retrieval/index.ts';
import { type ActionWindow, encoderInput } from '../core/sequence/index.ts';
import { locateBundle } from './bundle-location.ts';
import { itemRows, writeItemRow } from './item-rows.ts';
import { sequenceFeeds } from './models/ranker-feeds.ts';
import { type Candidate, fastestSession, type ModelSession } from './models/session.ts';
import { FallbackRetriever } from './retrieval/select.ts';
import { EngineStorage } from './storage/index.ts';
import {
  type DeviceEmbedding,
  emptyUserState,
  registryUrl,
  SyncClient,
  type SyncClock,
  type SyncStatus,
  serverRoot,
} from './sync/index.ts';
import type {
  EngineOptions,
  EngineStatus,
  ProgressEvent,
  Recommendation,
  RecommendRequest,
  RecommendResult,
  RecordedEvent,
  SyncResult,
} from './types.ts';

export class EngineNotReadyError extends Error {
  constructor() {
    super('the engine is not initialised: call init() first');
    this.name = 'EngineNotReadyError';
  }
}

export class BundleUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BundleUnavailableError';
  }
}

/** Everything that belongs to one bundle version; swapped as a whole when a new version is ready. */
interface ModelState {
  manifest: BundleManifest;
  catalog: BundleCatalog;
  index: Map<string, number>;
  table: DecodedItemTable;
  retriever: FallbackRetriever;
  ranker: ModelSession;
  encoder: ModelSession;
  encoderLength: number;
  /** Items by catalog positives, best first: the feed of a user with no history yet. */
  popular: Int32Array;
}

const DEFAULT_CANDIDATES = 200;
const RECENT_EVENTS = 500;
const VERBS: Record<string, string> = { click: 'clicked', closeup: 'looked at', save: 'saved' };

const normalise = (v: Float32Array): Float32Array | undefined => {
  let s = 0;
  for (const x of v) s += x * x;
  if (!(s > 0)) return undefined;
  const n = Math.sqrt(s);
  return v.map((x) => x / n);
};

/** What tests may inject into an engine they run in a page; the worker's engine takes none. */
export interface EngineDeps {
  /** The sync client's fetch (bundles are always fetched with the global one). */
  fetch?: typeof fetch;
  /** The sync client's clock, timers and jitter. */
  clock?: SyncClock;
  /** Where the sync client listens for `online` (default the global scope). */
  events?: Pick<EventTarget, 'addEventListener' | 'removeEventListener'>;
}

const DISABLED_SYNC: SyncStatus = { state: 'disabled', privacy: false };

/**
 * The on-device recommender: bundle loading (IndexedDB first, verified), the compact encoder over local
 * events, retrieval on WebGPU or the CPU, the ORT ranker, utility, filters and MMR diversity; with a
 * `serverUrl`, the sync client (src/engine/sync/) that uploads the event log and syncs embeddings.
 */
export class Engine {
  private state?: ModelState;
  private storage?: EngineStorage;
  private options?: Required<
    Pick<EngineOptions, 'userId' | 'device' | 'dtype' | 'candidates' | 'longTermWeight'>
  > &
    EngineOptions & { bundleUrl: string };
  private online = true;
  private syncClient?: SyncClient;

  constructor(private readonly deps: EngineDeps = {}) {}

  async init(
    options: EngineOptions,
    onProgress: (p: ProgressEvent) => void = () => {},
  ): Promise<EngineStatus> {
    if (!options.userId) throw new TypeError('createRecommender: userId is required');
    if (!options.bundleUrl && !options.serverUrl) {
      throw new TypeError(
        'createRecommender: pass bundleUrl (the folder edgerec bundle wrote, e.g. "/models/") or serverUrl (an edgerec serve server)',
      );
    }
    // A malformed serverUrl is refused now, not after the bundle has loaded.
    if (options.serverUrl) serverRoot(options.serverUrl);
    // The server's registry is laid out as a bundles folder: locateBundle works on it unchanged.
    const bundleUrl = options.bundleUrl ?? registryUrl(options.serverUrl!);
    this.options = {
      device: 'auto',
      dtype: 'i8',
      candidates: DEFAULT_CANDIDATES,
      longTermWeight: 0.5,
      ...options,
      bundleUrl,
    };
    this.storage = await EngineStorage.open(options.databaseName);
    onProgress({ phase: 'manifest', message: `resolving ${bundleUrl}` });
    const located = await locateBundle(bundleUrl).catch(() => undefined);
    this.online = located !== undefined;
    const version = located?.version ?? (await this.storage.currentVersion());
    if (!version)
      throw new BundleUnavailableError(
        `no bundle at ${bundleUrl} and none cached yet: the first start needs the network`,
      );
    this.state = await this.loadState(version, located?.network, onProgress);
    await this.storage.setCurrent(version, (m) => this.neededFiles(m));
    if (options.serverUrl) {
      this.syncClient = new SyncClient({
        storage: this.storage,
        serverUrl: options.serverUrl,
        token: options.token,
        userId: options.userId,
        privacy: options.privacy ?? false,
        modelVersion: () => this.state?.manifest.version,
        deviceEmbedding: () => this.deviceEmbedding(),
        lockName: `edgerec-sync:${this.storage.name}:${options.userId}`,
        fetch: this.deps.fetch,
        clock: this.deps.clock,
        events: this.deps.events,
      });
      // Resumes the outbox a previous session left (and pulls the server embedding), in the background.
      await this.syncClient.start();
    }
    onProgress({ phase: 'ready', message: `bundle ${version}` });
    return this.status();
  }

  private async loadState(
    version: string,
    network: BundleSource | undefined,
    onProgress: (p: ProgressEvent) => void,
  ): Promise<ModelState> {
    const storage = this.storage!;
    const options = this.options!;
    const source = storage.cachedSource(network, version);
    const bundle = await Bundle.open(source);
    const manifest = bundle.manifest;
    if (network) {
      // Everything this device may run, stored and verified up front: an offline start then never finds a
      // variant missing, whichever execution provider wins the warm-up.
      await storage.prefetch(
        network,
        manifest,
        (p) =>
          onProgress({
            phase: 'download',
            file: p.file,
            loaded: p.loadedBytes,
            total: p.totalBytes,
            cached: p.fromCache,
          }),
        (m) => this.neededFiles(m),
      );
    }
    const load = async (ref: FileRef) => {
      const bytes = await bundle.file(ref);
      onProgress({ phase: 'verify', file: ref.file, loaded: ref.bytes, total: ref.bytes });
      return bytes;
    };
    const catalog = await bundle.catalog();
    const table = await bundle.itemTable(options.dtype);
    onProgress({ phase: 'compile', message: 'retrieval kernels' });
    const retriever = await FallbackRetriever.create(table, options.device);
    onProgress({ phase: 'warmup', message: 'choosing the ranker execution provider' });
    const gpu = retriever.backend === 'webgpu';
    const pick = (
      entries: ModelEntry[],
      role: 'student' | 'teacher',
      dtype = options.rankerDtype ?? 'int8',
    ) => {
      const candidates: Candidate[] = [];
      for (const entry of entries) {
        if (entry.role !== role || entry.dtype !== dtype || !isDefaultFusion(manifest, entry)) continue;
        for (const provider of entry.providers) {
          if (provider === 'webgpu' && !gpu) continue;
          candidates.push({ entry, provider });
        }
      }
      return candidates;
    };
    const ranker = await fastestSession(pick(manifest.rankers, 'student'), load, options.candidates, 'probs');
    const encoder = await fastestSession(pick(manifest.encoders, 'student'), load, 1, 'user');
    const encoderLength = Number(encoder.session.entry.inputs[0].shape[1]);
    const index = new Map(catalog.ids.map((id, i) => [id, i]));
    const popular = Int32Array.from(catalog.ids.map((_, i) => i)).sort(
      (a, b) => catalog.positives[b] - catalog.positives[a] || a - b,
    );
    return {
      manifest,
      catalog,
      index,
      table,
      retriever,
      ranker: ranker.session,
      encoder: encoder.session,
      encoderLength,
      popular,
    };
  }

  /** The files of a manifest this engine uses: catalog, one item table, the student models of one dtype. */
  private neededFiles(manifest: BundleManifest): FileRef[] {
    const options = this.options!;
    const table = manifest.items.find((t) => t.dtype === options.dtype);
    if (!table) {
      const present = manifest.items.map((t) => t.dtype).join(', ');
      throw new BundleUnavailableError(
        `bundle ${manifest.version} has no ${options.dtype} item table (it has ${present})`,
      );
    }
    const dtype = options.rankerDtype ?? 'int8';
    const models = [...manifest.rankers, ...manifest.encoders].filter(
      (m) => m.role === 'student' && m.dtype === dtype && isDefaultFusion(manifest, m),
    );
    return [manifest.catalog, table, ...(table.scales ? [table.scales] : []), ...models].map(
      ({ file, bytes, sha256 }) => ({
        file,
        bytes,
        sha256,
      }),
    );
  }

  private ready(): { state: ModelState; storage: EngineStorage; options: NonNullable<Engine['options']> } {
    if (!this.state || !this.storage || !this.options) throw new EngineNotReadyError();
    return { state: this.state, storage: this.storage, options: this.options };
  }

  async recommend(request: RecommendRequest): Promise<RecommendResult> {
    const { state, storage, options } = this.ready();
    const t0 = performance.now();
    const k = checkRequest(request);
    const dim = state.table.dim;
    const user = (await storage.userState(options.userId)) ?? emptyUserState(options.userId);
    const { events, actions } = await this.localActions(state, storage, options.userId);

    // 1. The real-time embedding from the newest actions, blended with the server's long-term one —
    // which lives in the space of one item table, so only one computed for this bundle version counts.
    const short = await realtimeEmbedding(state, actions);
    const long =
      user.longTerm && user.longTerm.modelVersion === state.manifest.version
        ? Float32Array.from(user.longTerm.vector)
        : undefined;
    const w = long && short ? options.longTermWeight : long ? 1 : 0;
    const blended = new Float32Array(dim);
    for (let d = 0; d < dim; d++) blended[d] = w * (long?.[d] ?? 0) + (1 - w) * (short?.[d] ?? 0);
    const query = normalise(blended);
    const t1 = performance.now();

    // 2. Retrieval over everything not filtered out.
    const hidden = new Set([
      ...user.hidden,
      ...events.filter((e) => e.action === 'hide').map((e) => e.itemId),
    ]);
    const excluded = new Set<string>([...hidden, ...(request.exclude ?? [])]);
    if (!request.includeSeen) for (const e of actions) excluded.add(e.itemId);
    const excludedRows = [...excluded]
      .map((id) => state.index.get(id))
      .filter((i): i is number => i !== undefined);
    const bits = exclusionBitset(state.table.count, excludedRows);
    const n = Math.min(MAX_K, Math.max(k, options.candidates));
    let candidates: Int32Array;
    if (query) candidates = (await state.retriever.topK(query, n, bits)).indices;
    else {
      const rows: number[] = [];
      for (const i of state.popular) {
        if (rows.length >= n) break;
        if (!(bits[i >>> 5] & (1 << (i & 31)))) rows.push(i);
      }
      candidates = Int32Array.from(rows);
    }
    const t2 = performance.now();

    // 3. The ranker on the candidates: one row per candidate.
    const size = candidates.length;
    const rows = itemRows(state.table, candidates);
    const userLong = new Float32Array(size * dim);
    const userShort = new Float32Array(size * dim);
    const context = new Float32Array(size * CONTEXT_DIM);
    const now = Date.now();
    for (let c = 0; c < size; c++) {
      if (long) userLong.set(long, c * dim);
      if (short) userShort.set(short, c * dim);
      const i = candidates[c];
      const stats = {
        positives: state.catalog.positives[i],
        impressions: state.catalog.impressions[i],
        firstSeen: state.catalog.firstSeen[i],
      };
      contextFeatures(stats, user.counts, now, context, c * CONTEXT_DIM);
    }
    const probs =
      size === 0
        ? new Float32Array(0)
        : await state.ranker.run(
            {
              user_long: { data: userLong, dims: [size, dim] },
              user_short: { data: userShort, dims: [size, dim] },
              item: { data: rows, dims: [size, dim] },
              context: { data: context, dims: [size, CONTEXT_DIM] },
              ...sequenceFeeds(state.ranker.entry, actionWindow(state, actions), size, dim, (item, out, at) =>
                writeItemRow(state.table, item, out, at),
              ),
            },
            'probs',
          );
    const weights = { ...state.manifest.utility.weights, ...request.weights };
    const utilities = Float32Array.from({ length: size }, (_, c) =>
      utility(probs, c * RANKER_HEADS.length, weights),
    );
    const t3 = performance.now();

    // 4. Diversity, then reasons.
    const picked = mmrSelect(utilities, rows, dim, k, request.diversity ?? 0.8);
    const recent = actions.filter((e) => !hidden.has(e.itemId)).slice(-32);
    const recentRows = itemRows(
      state.table,
      recent.map((e) => state.index.get(e.itemId)!),
    );
    const recentTopics = new Set(recent.flatMap((e) => state.catalog.topics[state.index.get(e.itemId)!]));
    const items: Recommendation[] = Array.from(picked, (c) => {
      const i = candidates[c];
      const probabilities = Object.fromEntries(
        RANKER_HEADS.map((head, h) => [head, probs[c * RANKER_HEADS.length + h]]),
      ) as Record<RankerHead, number>;
      return {
        itemId: state.catalog.ids[i],
        title: state.catalog.titles[i],
        topics: state.catalog.topics[i],
        utility: utilities[c],
        probabilities,
        reason: this.reason(
          state,
          rows.subarray(c * dim, (c + 1) * dim),
          recent,
          recentRows,
          recentTopics,
          i,
        ),
      };
    });
    const t4 = performance.now();
    return {
      items,
      backend: {
        // Without any user vector the feed starts from popularity, a TypeScript scan of the catalog.
        retrieval: query ? state.retriever.backend : 'js',
        ranker: state.ranker.provider,
        encoder: state.encoder.provider,
      },
      timings: { encode: t1 - t0, retrieve: t2 - t1, rank: t3 - t2, rerank: t4 - t3, total: t4 - t0 },
      modelVersion: state.manifest.version,
    };
  }

  /** The user's recent events, oldest first, and the actions among them on items this bundle knows. */
  private async localActions(
    state: ModelState,
    storage: EngineStorage,
    userId: string,
  ): Promise<{ events: Event[]; actions: Event[] }> {
    const events = (await storage.recentEvents(userId, RECENT_EVENTS)).sort((a, b) => a.ts - b.ts);
    const actions = events.filter((e) => e.action !== 'impression' && state.index.has(e.itemId));
    return { events, actions };
  }

  /**
   * The device-learned embedding the sync client writes to the server: the compact encoder's real-time
   * user embedding over the local actions, exactly the `user_short` recommend() feeds the ranker, in the
   * space of the running bundle. Undefined before the first action (or once disposed).
   */
  private async deviceEmbedding(): Promise<DeviceEmbedding | undefined> {
    const { state, storage, options } = this;
    if (!state || !storage || !options) return undefined;
    const { actions } = await this.localActions(state, storage, options.userId);
    const short = await realtimeEmbedding(state, actions);
    return short ? { vector: Array.from(short), modelVersion: state.manifest.version } : undefined;
  }

  private reason(
    state: ModelState,
    row: Float32Array,
    recent: Event[],
    recentRows: Float32Array,
    recentTopics: Set<string>,
    item: number,
  ): Recommendation['reason'] {
    const dim = state.table.dim;
    let best = -1;
    let bestSim = 0.5;
    for (let r = 0; r < recent.length; r++) {
      let dot = 0;
      let a = 0;
      let b = 0;
      for (let d = 0; d < dim; d++) {
        dot += row[d] * recentRows[r * dim + d];
        a += row[d] * row[d];
        b += recentRows[r * dim + d] ** 2;
      }
      const sim = dot / Math.sqrt(a * b || 1);
      // Item embeddings share a common direction, so closeness alone explains little: a moderately close
      // recent pin counts only when it shares a topic with this one.
      const recentItem = state.index.get(recent[r].itemId)!;
      const sharesTopic = state.catalog.topics[item].some((t) =>
        state.catalog.topics[recentItem].includes(t),
      );
      if (sim > bestSim && (sharesTopic || sim > 0.8)) {
        bestSim = sim;
        best = r;
      }
    }
    if (best >= 0) {
      const e = recent[best];
      const title = state.catalog.titles[state.index.get(e.itemId)!];
      return {
        kind: 'recent',
        itemId: e.itemId,
        text: `Because you ${VERBS[e.action] ?? 'viewed'} “${title}”`,
      };
    }
    const topic = state.catalog.topics[item].find((t) => recentTopics.has(t));
    if (topic) return { kind: 'interest', text: `More ${topic}, which you have been exploring` };
    return { kind: 'popular', text: 'Popular with people right now' };
  }

  async record(input: RecordedEvent): Promise<Event> {
    const { storage, options } = this.ready();
    const event = validateEvent({
      id: input.id ?? crypto.randomUUID(),
      userId: options.userId,
      itemId: input.itemId,
      action: input.action,
      ts: input.ts ?? Date.now(),
      ...(input.surface !== undefined ? { surface: input.surface } : {}),
      ...(input.dwellMs !== undefined ? { dwellMs: input.dwellMs } : {}),
    });
    // A re-recorded id is already logged (and counted): neither counted nor uploaded twice.
    if (!(await storage.appendEvent(event))) return event;
    // One transaction: the sync client may store a pulled embedding in the same record meanwhile.
    await storage.updateUserState(options.userId, (stored) => {
      const user = stored ?? emptyUserState(options.userId);
      if (event.action !== 'impression') user.counts[event.action]++;
      if (event.action === 'hide' && !user.hidden.includes(event.itemId)) user.hidden.push(event.itemId);
      user.updatedAt = event.ts;
      return user;
    });
    this.syncClient?.notifyRecorded();
    return event;
  }

  /**
   * Looks for a newer bundle (downloads it and switches between two requests), then, with a server,
   * uploads the outbox and syncs the embeddings (one pass of the sync client, after any in flight).
   */
  async sync(): Promise<SyncResult> {
    const bundle = await this.syncBundle();
    if (!this.syncClient) {
      const pending = await this.ready().storage.countUnsynced();
      return {
        ...bundle,
        events: { uploaded: 0, duplicates: 0, refused: 0, pending },
        embedding: 'disabled',
        state: 'disabled',
      };
    }
    return { ...bundle, ...(await this.syncClient.sync()) };
  }

  private async syncBundle(): Promise<Pick<SyncResult, 'bundle' | 'version'>> {
    const { storage, options, state } = this.ready();
    const located = await locateBundle(options.bundleUrl).catch(() => undefined);
    this.online = located !== undefined;
    if (!located) return { bundle: 'offline', version: state.manifest.version };
    if (located.version === state.manifest.version) return { bundle: 'current', version: located.version };
    const next = await this.loadState(located.version, located.network, () => {});
    await storage.setCurrent(located.version, (m) => this.neededFiles(m));
    const old = this.state!;
    this.state = next;
    await disposeState(old);
    return { bundle: 'updated', version: located.version };
  }

  /** A new bearer token for the sync server: clears `unauthorized` and uploads at once. */
  async setToken(token: string): Promise<void> {
    if (!this.syncClient) throw new TypeError('setToken: this engine has no serverUrl');
    this.syncClient.setToken(token);
  }

  async status(): Promise<EngineStatus> {
    const pending = this.storage ? await this.storage.countUnsynced() : 0;
    const sync = this.syncClient?.status() ?? DISABLED_SYNC;
    const online = this.online && sync.state !== 'offline';
    const state = this.state;
    if (!state) return { ready: false, pendingEvents: pending, online, sync };
    const ranker = state.ranker.entry;
    return {
      ready: true,
      modelVersion: state.manifest.version,
      backend: {
        retrieval: state.retriever.backend,
        ranker: state.ranker.provider,
        encoder: state.encoder.provider,
      },
      dtype: state.table.dtype,
      rankerVariant: `${ranker.role} ${ranker.dtype}${ranker.form ? `-${ranker.form}` : ''}`,
      items: state.table.count,
      pendingEvents: pending,
      online,
      sync,
      lastFallback: state.retriever.lastFallback,
    };
  }

  /**
   * Destroys the retrieval GPU device, as a driver reset would, to check that recommend() carries on on
   * the CPU. Resolves false when retrieval is not on WebGPU.
   */
  async simulateDeviceLoss(): Promise<boolean> {
    return this.ready().state.retriever.simulateDeviceLoss();
  }

  async clearCache(): Promise<void> {
    await this.storage?.clear();
  }

  async dispose(): Promise<void> {
    // First: its timers stop, and the pass in flight ends before the storage it writes closes.
    await this.syncClient?.dispose();
    this.syncClient = undefined;
    if (this.state) await disposeState(this.state);
    this.state = undefined;
    this.storage?.close();
    this.storage = undefined;
  }
}

/** The most a request may ask for: the GPU kernels keep up to this many candidates per workgroup. */
export const MAX_K = 256;

function checkRequest(request: RecommendRequest): number {
  const { k, diversity, weights } = request;
  if (!Number.isInteger(k) || k < 1 || k > MAX_K)
    throw new RangeError(`recommend: k must be an integer from 1 to ${MAX_K}, got ${k}`);
  if (diversity !== undefined && !(diversity >= 0 && diversity <= 1))
    throw new RangeError(`recommend: diversity must be in [0, 1], got ${diversity}`);
  for (const [head, w] of Object.entries(weights ?? {})) {
    if (!(RANKER_HEADS as readonly string[]).includes(head))
      throw new RangeError(`recommend: unknown utility weight "${head}" (heads: ${RANKER_HEADS.join(', ')})`);
    if (!Number.isFinite(w))
      throw new RangeError(`recommend: utility weight ${head} must be a finite number`);
  }
  return k;
}

async function disposeState(state: ModelState): Promise<void> {
  state.retriever.dispose();
  await state.ranker.dispose();
  await state.encoder.dispose();
}

/** The validation-chosen ranker fusion (manifest.defaultRanker; late for older bundles); encoders pass. */
function isDefaultFusion(manifest: BundleManifest, entry: ModelEntry): boolean {
  if (entry.kind !== 'ranker') return true;
  return (entry.fusion ?? 'late') === (manifest.defaultRanker?.fusion ?? 'late');
}

/** Local actions (oldest first, on items of this bundle) as the sequence the encoder and ranker read. */
function actionWindow(state: ModelState, actions: Event[]): ActionWindow {
  return {
    items: actions.map((e) => state.index.get(e.itemId)!),
    actions: actions.map((e) => ACTION_CODE[e.action]),
    ts: actions.map((e) => e.ts),
  };
}

/** The compact encoder over `actions` (oldest first): the real-time user embedding; none without actions. */
async function realtimeEmbedding(state: ModelState, actions: Event[]): Promise<Float32Array | undefined> {
  if (actions.length === 0) return undefined;
  const dim = state.table.dim;
  const window = actionWindow(state, actions);
  const input = encoderInput([window], state.encoderLength, dim, (item, out, offset) =>
    writeItemRow(state.table, item, out, offset),
  );
  return state.encoder.run(
    {
      items: { data: input.items, dims: [1, input.length, dim] },
      actions: { data: input.actions, dims: [1, input.length, input.actions.length / input.length] },
      time: { data: input.time, dims: [1, input.length, input.time.length / input.length] },
      mask: { data: input.mask, dims: [1, input.length] },
    },
    'user',
  );
}
