import {
  Bundle,
  type BundleCatalog,
  type BundleManifest,
  type BundleSource,
  type DecodedItemTable,
  type FileRef,
  type ModelEntry,
  RANKER_FUSIONS,
  RANKER_HEADS,
  type RankerFusion,
} from '../core/bundle/index.ts';
import type { CacheInfo, CachePruned } from '../core/contract/types.ts';
import { EdgerecError, type ErrorCode, InvalidOptionsError, InvalidRequestError } from '../core/errors.ts';
import { ACTION_CODE, type Event, validateEvent } from '../core/events.ts';
import { type FeedRunners, type FeedStage, recommendFeed, sequenceFeeds } from '../core/feed/index.ts';
import { bundleLearningChoice, type LearningChoice } from '../core/learning/index.ts';
import { CONTEXT_DIM } from '../core/ranking/index.ts';
import { writeItemRow } from '../core/retrieval/index.ts';
import { type ActionWindow, encoderInput } from '../core/sequence/index.ts';
import { slabF32 } from '../core/typed-slab.ts';
import { type BundleLocation, locateBundle } from './bundle-location.ts';
import { cacheInfo, pruneCache } from './cache-control.ts';
import { downloadProgress } from './download-progress.ts';
import { DeviceLearner, type LearningStatus, learnedVector } from './learning/index.ts';
import { Lease } from './lease.ts';
import type { FeedScratch } from './models/scratch.ts';
import type { Candidate, ModelSession } from './models/session.ts';
import { loadedOrtBuild, loadOrt, requestOrtThreads, wasmThreads } from './onnx-runtime.ts';
import { RequestGate } from './request-gate.ts';
import { liveResources, track } from './resources.ts';
import { FallbackRetriever } from './retrieval/select.ts';
import { type ClearedBundles, EngineStorage, type SetAsideEvent, VerifiedFiles } from './storage/index.ts';
import {
  type DeviceEmbedding,
  emptyUserState,
  registryUrl,
  SyncClient,
  type SyncClock,
  type SyncStatus,
  serverRoot,
  syncMetaKey,
} from './sync/index.ts';
import type {
  DeletedLocalData,
  EngineOptions,
  EngineStatus,
  ProgressEvent,
  Recommendation,
  RecommendRequest,
  RecommendResult,
  RecordedEvent,
  SyncResult,
} from './types.ts';

export class EngineNotReadyError extends EdgerecError {
  constructor() {
    super('NOT_READY', 'the engine is not initialised: call init() first');
    this.name = 'EngineNotReadyError';
  }
}

export class BundleUnavailableError extends EdgerecError {
  constructor(message: string, code: ErrorCode) {
    super(code, message);
    this.name = 'BundleUnavailableError';
  }
}

/**
 * Everything that belongs to one bundle version; swapped as a whole when a new version is ready. Requests
 * hold it through its lease, so a swap frees it only after the last request that started on it.
 */
interface ModelState {
  lease: Lease;
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
  /** The ranker's reused feed arrays: its sequence feeds (rankerScratch) and the other four (inputScratch). */
  rankerScratch: FeedScratch;
  inputScratch: FeedScratch;
  /** How the device learns on this bundle (its manifest's validation choice), read once per load. */
  learning: LearningChoice;
}

const DEFAULT_CANDIDATES = 200;
const RECENT_EVENTS = 500;
/** The local log is trimmed to this many newest events of the user by default (see `maxLogEvents`). */
export const DEFAULT_MAX_LOG_EVENTS = 5000;
/** Chosen on the replay's validation window (notes/replay.md): multi-interest retrieval found more. */
const DEFAULT_INTERESTS = 'multi';

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
    Pick<EngineOptions, 'userId' | 'device' | 'dtype' | 'candidates' | 'longTermWeight' | 'maxLogEvents'>
  > &
    EngineOptions & { bundleUrl: string };
  private online = true;
  private syncClient?: SyncClient;
  /** The bundle check in flight: concurrent sync() calls share it, so a version is loaded once. */
  private bundleCheck?: Promise<Pick<SyncResult, 'bundle' | 'version' | 'bundleError'>>;
  private recordsSinceTrim = 0;
  private learner?: DeviceLearner;
  /** recommend() calls in flight: on-device learning takes no step while there is one. */
  private readonly requests = new RequestGate();

  constructor(private readonly deps: EngineDeps = {}) {}

  async init(
    options: EngineOptions,
    onProgress: (p: ProgressEvent) => void = () => {},
  ): Promise<EngineStatus> {
    if (!options.userId) throw new InvalidOptionsError('createRecommender: userId is required');
    if (!options.bundleUrl && !options.serverUrl) {
      throw new InvalidOptionsError(
        'createRecommender: pass bundleUrl (the folder edgerec bundle wrote, e.g. "/models/") or serverUrl (an edgerec serve server)',
      );
    }
    // A malformed serverUrl is refused now, not after the bundle has loaded.
    if (options.serverUrl) checkedOption(() => serverRoot(options.serverUrl!));
    if (options.modelThreads !== undefined && !requestOrtThreads(options.modelThreads))
      console.warn('edgerec: modelThreads ignored: onnxruntime-web already runs in this worker');
    if (options.rankerFusion !== undefined && !RANKER_FUSIONS.includes(options.rankerFusion))
      throw new InvalidOptionsError(
        `createRecommender: rankerFusion must be one of ${RANKER_FUSIONS.join(', ')}, got ${String(options.rankerFusion)}`,
      );
    const maxLogEvents = options.maxLogEvents ?? DEFAULT_MAX_LOG_EVENTS;
    if (!Number.isInteger(maxLogEvents) || maxLogEvents < 1)
      throw new InvalidOptionsError(
        `createRecommender: maxLogEvents must be a positive integer, got ${maxLogEvents}`,
      );
    // The server's registry is laid out as a bundles folder: locateBundle works on it unchanged.
    const bundleUrl = options.bundleUrl ?? registryUrl(options.serverUrl!);
    this.options = {
      device: 'auto',
      dtype: 'i8',
      candidates: DEFAULT_CANDIDATES,
      longTermWeight: 0.5,
      ...options,
      maxLogEvents,
      bundleUrl,
    };
    this.storage = await EngineStorage.open(options.databaseName);
    // Before anything can be recorded or synced: the stored flag is what every tab of this user obeys.
    if (options.privacy === true)
      await this.storage.setPrivacy(options.userId, true, () => emptyUserState(options.userId));
    onProgress({ phase: 'manifest', message: `resolving ${bundleUrl}` });
    // Only "no answer for now" falls back to the cache; a 404 or a malformed answer is an error.
    const located = await locateBundle(bundleUrl);
    this.online = located !== undefined;
    const version = located?.version ?? (await this.storage.currentVersion());
    if (!version)
      throw new BundleUnavailableError(
        `${bundleUrl} cannot be reached and there is none cached yet: the first start needs the network`,
        'OFFLINE_NO_CACHE',
      );
    this.state = await this.loadState(version, located?.network, onProgress);
    await this.storage.pruneToRecent();
    await this.storage.trimEvents(options.userId, maxLogEvents);
    if (options.learning !== false)
      this.learner = new DeviceLearner({
        storage: this.storage,
        userId: options.userId,
        ...(this.deps.clock ? { timers: this.deps.clock } : {}),
        ...(typeof options.learning === 'object' && options.learning.backends
          ? { backends: options.learning.backends }
          : {}),
        force: options.learning === true,
        whenIdle: () => this.requests.whenIdle(),
        model: () => {
          const state = this.state;
          if (!state) return undefined;
          return {
            version: state.manifest.version,
            table: state.table,
            index: state.index,
            learning: state.learning,
            use: (task) => state.lease.use(task),
          };
        },
      });
    if (options.serverUrl) {
      this.syncClient = new SyncClient({
        storage: this.storage,
        serverUrl: options.serverUrl,
        token: options.token,
        userId: options.userId,
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
    // Each file is hashed once in this load: when prefetched (or downloaded), not again when read or
    // when the version is made current.
    const { chooseSession, FeedScratch } = await modelLoading();
    const verified = new VerifiedFiles();
    const source = storage.cachedSource(network, version, verified);
    const bundle = await Bundle.open(source);
    const manifest = bundle.manifest;
    if (network) {
      // Everything this device may run, stored and verified up front: an offline start then never finds a
      // variant missing, whichever execution provider wins the warm-up.
      const download = downloadProgress(onProgress);
      await storage.prefetch(
        network,
        manifest,
        download.onFile,
        (m) => this.neededFiles(m),
        verified,
        download.onBytes,
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
    const retriever = await FallbackRetriever.create(table, options.device, options.retrievalThreads);
    onProgress({ phase: 'warmup', message: 'choosing the ranker execution provider' });
    // ORT's WebGPU EP only shares a device the retriever uses: without one, the lighter wasm-only build
    // (see OrtBuild). A worker keeps the build its first load chose, so a later bundle on WebGPU may find
    // the wasm build and run its models on the wasm EP.
    const gpu = retriever.backend === 'webgpu';
    await loadOrt(gpu ? 'webgpu' : 'wasm');
    const ortGpu = gpu && loadedOrtBuild() === 'webgpu';
    const fusion = servedFusion(manifest, options);
    const pick = (
      entries: ModelEntry[],
      role: 'student' | 'teacher',
      dtype = options.rankerDtype ?? 'int8',
    ) => {
      const candidates: Candidate[] = [];
      for (const entry of entries) {
        if (entry.role !== role || entry.dtype !== dtype || !ofFusion(entry, fusion)) continue;
        for (const provider of entry.providers) {
          if (provider === 'webgpu' && !ortGpu) continue;
          candidates.push({ entry, provider });
        }
      }
      return candidates;
    };
    const sessions: ModelSession[] = [];
    const chosen = async (
      role: 'ranker' | 'encoder',
      candidates: Candidate[],
      batch: number,
      output: string,
    ) => {
      const session = await chooseSession(
        storage,
        role,
        version,
        wasmThreads(),
        candidates,
        load,
        batch,
        output,
      );
      sessions.push(session);
      return session;
    };
    try {
      const ranker = await chosen('ranker', pick(manifest.rankers, 'student'), options.candidates, 'probs');
      const encoder = await chosen('encoder', pick(manifest.encoders, 'student'), 1, 'user');
      // Atomic: the version becomes current only now that every file it needs is stored and verified.
      await storage.setCurrent(version, (m) => this.neededFiles(m), verified);
      return this.modelState(manifest, catalog, table, retriever, ranker, encoder, () => new FeedScratch());
    } catch (error) {
      retriever.dispose();
      for (const session of sessions) await session.dispose().catch(() => {});
      throw error;
    }
  }

  private modelState(
    manifest: BundleManifest,
    catalog: BundleCatalog,
    table: DecodedItemTable,
    retriever: FallbackRetriever,
    ranker: ModelSession,
    encoder: ModelSession,
    scratch: () => FeedScratch,
  ): ModelState {
    const encoderLength = Number(encoder.entry.inputs[0].shape[1]);
    const index = new Map(catalog.ids.map((id, i) => [id, i]));
    const popular = Int32Array.from(catalog.ids.map((_, i) => i)).sort(
      (a, b) => catalog.positives[b] - catalog.positives[a] || a - b,
    );
    track('modelStates', 1);
    const lease = new Lease(async () => {
      track('modelStates', -1);
      retriever.dispose();
      await ranker.dispose();
      await encoder.dispose();
    });
    return {
      lease,
      manifest,
      catalog,
      index,
      table,
      retriever,
      ranker,
      encoder,
      encoderLength,
      popular,
      rankerScratch: scratch(),
      inputScratch: scratch(),
      learning: bundleLearningChoice(manifest.learning),
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
        'BUNDLE_INVALID',
      );
    }
    const dtype = options.rankerDtype ?? 'int8';
    const fusion = servedFusion(manifest, options);
    const models = [...manifest.rankers, ...manifest.encoders].filter(
      (m) => m.role === 'student' && m.dtype === dtype && ofFusion(m, fusion),
    );
    if (!models.some((m) => m.kind === 'ranker'))
      throw new BundleUnavailableError(
        `bundle ${manifest.version} has no ${fusion}-fusion ${dtype} student ranker`,
        'BUNDLE_INVALID',
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

  /**
   * Runs on the bundle version current when it is called, to the end: a swap meanwhile sends later
   * requests to the new version and frees this one only after this request (see Lease).
   */
  async recommend(request: RecommendRequest): Promise<RecommendResult> {
    const { state, storage, options } = this.ready();
    const k = checkRequest(request);
    return this.requests.run(() =>
      state.lease.use(() => this.recommendOn(state, storage, options, request, k)),
    );
  }

  private async recommendOn(
    state: ModelState,
    storage: EngineStorage,
    options: NonNullable<Engine['options']>,
    request: RecommendRequest,
    k: number,
  ): Promise<RecommendResult> {
    const t0 = performance.now();
    // The user's state and recent events in one read-only transaction (encode's share of the latency).
    const snapshot = await storage.userSnapshot(options.userId, RECENT_EVENTS);
    const user = snapshot.user ?? emptyUserState(options.userId);
    const { events, actions } = localActionsOf(state, snapshot.events);
    // The server's long-term embedding lives in the space of one item table: only this version's counts.
    // The embedding learnt on the device (or adopted from another device) takes its place when there is one.
    // ...unless this bundle chose on validation not to learn (and the app did not insist).
    const choice = state.learning;
    const learned =
      choice.learn || options.learning === true ? learnedVector(user, state.manifest.version) : undefined;
    const long =
      learned ??
      (user.longTerm && user.longTerm.modelVersion === state.manifest.version
        ? Float32Array.from(user.longTerm.vector)
        : undefined);
    const rowsOf = (ids: Iterable<string>) =>
      [...ids].map((id) => state.index.get(id)).filter((i): i is number => i !== undefined);
    const marks: Partial<Record<FeedStage, number>> = {};
    const feed = await state.inputScratch.use((allocate) =>
      recommendFeed(
        { table: state.table, catalog: state.catalog, stats: state.catalog, popular: state.popular },
        feedRunners(state),
        {
          k,
          actions: actions.map((e) => ({
            item: state.index.get(e.itemId)!,
            action: ACTION_CODE[e.action],
            ts: e.ts,
          })),
          hidden: rowsOf([...user.hidden, ...events.filter((e) => e.action === 'hide').map((e) => e.itemId)]),
          exclude: rowsOf(request.exclude ?? []),
          includeSeen: request.includeSeen,
          ...(long ? { longTerm: long } : {}),
          // A learned embedding weighs as the bundle's validation chose (the built-in 1 without a choice).
          longTermWeight: learned ? choice.weight : options.longTermWeight,
          counts: user.counts,
          now: Date.now(),
          weights: { ...state.manifest.utility.weights, ...request.weights },
          diversity: request.diversity ?? 0.8,
          candidates: Math.min(MAX_K, Math.max(k, options.candidates)),
          interests: request.interests ?? DEFAULT_INTERESTS,
        },
        (stage) => {
          marks[stage] = performance.now();
        },
        allocate,
      ),
    );
    const items: Recommendation[] = feed.items.map(({ item, utility, probabilities, reason }) => ({
      itemId: state.catalog.ids[item],
      title: state.catalog.titles[item],
      topics: state.catalog.topics[item],
      utility,
      probabilities,
      reason: {
        kind: reason.kind,
        text: reason.text,
        ...(reason.item !== undefined ? { itemId: state.catalog.ids[reason.item] } : {}),
      },
    }));
    const [t1, t2, t3, t4] = (['encode', 'retrieve', 'rank', 'rerank'] as const).map((s) => marks[s]!);
    return {
      items,
      backend: {
        // Without any user vector the feed starts from popularity, a TypeScript scan of the catalog.
        retrieval: feed.query || feed.interests.length > 0 ? state.retriever.backend : 'js',
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
    return localActionsOf(state, await storage.recentEvents(userId, RECENT_EVENTS));
  }

  /**
   * The device-learned embedding the sync client writes to the server: the one on-device learning stored
   * (src/engine/learning) when it learnt one for the running bundle; else the compact encoder's real-time
   * user embedding over the local actions (the `user_short` recommend() feeds the ranker). Undefined before
   * the first action (or once disposed). An embedding adopted from another device is not written back.
   */
  private async deviceEmbedding(): Promise<DeviceEmbedding | undefined> {
    const { state, storage, options } = this;
    if (!state || !storage || !options || options.shareEmbedding === false) return undefined;
    const learned = (await storage.userState(options.userId))?.learned;
    if (learned && learned.modelVersion === state.manifest.version && learned.source === 'device')
      return { vector: learned.vector, modelVersion: learned.modelVersion };
    return state.lease.use(async () => {
      const { actions } = await this.localActions(state, storage, options.userId);
      const short = await realtimeEmbedding(state, actions);
      return short ? { vector: Array.from(short), modelVersion: state.manifest.version } : undefined;
    });
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
    // One transaction: the event (local only when the user's stored privacy flag is on) and the counts it
    // changes. A re-recorded id is already logged (and counted): neither counted nor uploaded twice.
    const appended = await storage.appendEvent(event, (stored) => {
      const user = stored ?? emptyUserState(options.userId);
      if (event.action !== 'impression') user.counts[event.action]++;
      if (event.action === 'hide' && !user.hidden.includes(event.itemId)) user.hidden.push(event.itemId);
      user.updatedAt = event.ts;
      return user;
    });
    if (!appended) return event;
    // Trimmed in steps: the log holds at most maxLogEvents plus one step (and every unsynced event).
    if (++this.recordsSinceTrim >= trimStep(options.maxLogEvents)) {
      this.recordsSinceTrim = 0;
      await storage.trimEvents(options.userId, options.maxLogEvents);
    }
    this.syncClient?.notifyRecorded();
    this.learner?.notifyRecorded();
    return event;
  }

  /**
   * Turns privacy mode on or off for this user, in every tab and later start (stored in IndexedDB). On:
   * events recorded from now on, and those still waiting in the outbox, never leave the device; the server
   * is told at the next pass (which deletes the raw events it holds). Off: events recorded from now on are
   * uploaded; those recorded in privacy mode stay on the device for good.
   */
  async setPrivacy(on: boolean): Promise<void> {
    const { storage, options } = this.ready();
    await storage.setPrivacy(options.userId, on, () => emptyUserState(options.userId));
    this.syncClient?.privacyChanged(on);
  }

  /** Events the server refused (or holds another event under their id), oldest first, with why. */
  async setAsideEvents(limit = 100): Promise<SetAsideEvent[]> {
    const { storage, options } = this.ready();
    return storage.setAsideEvents(limit, options.userId);
  }

  /**
   * Looks for a newer bundle (downloads it and switches between two requests), then, with a server,
   * uploads the outbox and syncs the embeddings (one pass of the sync client, after any in flight).
   */
  async sync(): Promise<SyncResult> {
    const { storage, options } = this.ready();
    this.bundleCheck ??= this.syncBundle().finally(() => {
      this.bundleCheck = undefined;
    });
    const bundle = await this.bundleCheck;
    let result: SyncResult;
    if (!this.syncClient) {
      const pending = await storage.countUnsynced();
      result = {
        ...bundle,
        events: { uploaded: 0, duplicates: 0, refused: 0, pending },
        embedding: 'disabled',
        state: 'disabled',
      };
    } else result = { ...bundle, ...(await this.syncClient.sync()) };
    // Events the pass marked synced may now be trimmed.
    if (this.storage) await storage.trimEvents(options.userId, options.maxLogEvents);
    return result;
  }

  /**
   * Looks for a newer bundle; when there is one, loads it next to the running one, makes it current and
   * swaps it in between requests (the old one is freed after its last request), then prunes the cache to
   * the current and the previous version. A bundle URL that answers but not with a bundle, or a new
   * version that fails to load, is reported (`bundle: 'error'`), and the running version stays.
   */
  private async syncBundle(): Promise<Pick<SyncResult, 'bundle' | 'version' | 'bundleError'>> {
    const { storage, options, state } = this.ready();
    const running = state.manifest.version;
    let located: BundleLocation | undefined;
    try {
      located = await locateBundle(options.bundleUrl);
    } catch (error) {
      this.online = true;
      return { bundle: 'error', version: running, bundleError: (error as Error).message };
    }
    this.online = located !== undefined;
    if (!located) return { bundle: 'offline', version: running };
    if (located.version === running) return { bundle: 'current', version: running };
    let next: ModelState;
    try {
      next = await this.loadState(located.version, located.network, () => {});
    } catch (error) {
      return {
        bundle: 'error',
        version: running,
        bundleError: `bundle ${located.version} could not be loaded: ${(error as Error).message}`,
      };
    }
    if (!this.storage) {
      // Disposed while the new version loaded.
      await next.lease.retire();
      return { bundle: 'current', version: running };
    }
    const old = this.state!;
    this.state = next;
    void old.lease.retire();
    await storage.pruneToRecent();
    return { bundle: 'updated', version: located.version };
  }

  /** A new bearer token for the sync server: clears `unauthorized` and uploads at once. */
  async setToken(token: string): Promise<void> {
    if (!this.syncClient) throw new InvalidRequestError('setToken: this engine has no serverUrl');
    this.syncClient.setToken(token);
  }

  async status(): Promise<EngineStatus> {
    const storage = this.storage;
    const userId = this.options?.userId;
    const pending = storage ? await storage.countUnsynced() : 0;
    const setAside = storage ? await storage.countSetAside() : 0;
    // The stored flag: another tab may have changed it since this one's sync client last looked.
    const privacy = storage && userId !== undefined ? await storage.privacy(userId) : false;
    const sync = { ...(this.syncClient?.status() ?? DISABLED_SYNC), privacy };
    const online = this.online && sync.state !== 'offline';
    const resources = liveResources();
    const state = this.state;
    const isolation = {
      crossOriginIsolated: globalThis.crossOriginIsolated === true,
      wasmThreads: wasmThreads(),
      ...(loadedOrtBuild() ? { onnxRuntime: loadedOrtBuild() } : {}),
    };
    if (!state)
      return {
        ready: false,
        pendingEvents: pending,
        setAsideEvents: setAside,
        online,
        sync,
        resources,
        ...isolation,
      };
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
      rankerVariant: `${ranker.role} ${ranker.dtype}${ranker.form ? `-${ranker.form}` : ''}, ${ranker.fusion ?? 'late'} fusion`,
      retrievalSpace: state.manifest.retrieval?.model ?? 'pinnerformer',
      items: state.table.count,
      pendingEvents: pending,
      setAsideEvents: setAside,
      online,
      sync,
      lastFallback: state.retriever.lastFallback,
      ...(state.retriever.timings ? { retrievalTimings: state.retriever.timings } : {}),
      learning: this.learner?.status() ?? { state: 'off', runs: 0, steps: 0, reason: 'learning: false' },
      resources,
      ...isolation,
    };
  }

  /**
   * Destroys the retrieval GPU device, as a driver reset would, to check that recommend() carries on on
   * the CPU. Resolves false when retrieval is not on WebGPU.
   */
  async simulateDeviceLoss(): Promise<boolean> {
    return this.ready().state.retriever.simulateDeviceLoss();
  }

  /**
   * Deletes the cached bundles — every version's files and manifests — and nothing else: the event log
   * (with events not yet uploaded), hidden items, counts, embeddings and privacy stay. The running version
   * keeps running from memory; the next start downloads the bundle again (so it needs the network).
   */
  async clearCache(): Promise<ClearedBundles> {
    return this.ready().storage.clearBundles();
  }

  /** What the bundle cache holds (src/engine/cache-control.ts). */
  async cacheInfo(): Promise<CacheInfo> {
    return cacheInfo(this.ready().storage);
  }

  /** Deletes every cached version but the current one (src/engine/cache-control.ts). */
  async pruneCache(): Promise<CachePruned> {
    return pruneCache(this.ready().storage);
  }

  /**
   * Deletes this user's data on this device: the whole event log — events not yet uploaded included, which
   * are then never uploaded — hidden items, action counts, the long-term and device embeddings' local
   * copies and the sync client's record. Kept: the bundle cache, other users' data, and privacy mode when
   * on (a setting, not data: recording after the deletion stays private). Nothing on the server changes.
   * Resolves with what was deleted, counted.
   */
  async deleteLocalData(): Promise<DeletedLocalData> {
    const { storage, options } = this.ready();
    return storage.deleteUserData(options.userId, [syncMetaKey(options.userId)]);
  }

  /** A learning run now (after any in flight), off no request; resolves with the learning status. */
  async learn(): Promise<LearningStatus> {
    this.ready();
    if (!this.learner) return { state: 'off', runs: 0, steps: 0, reason: 'learning: false' };
    return this.learner.learnNow();
  }

  /** Destroys tfjs's WebGPU device that learning runs on (tests): learning carries on on wasm. */
  async simulateLearningDeviceLoss(): Promise<boolean> {
    return (await this.learner?.simulateDeviceLoss()) ?? false;
  }

  async dispose(): Promise<void> {
    await this.learner?.dispose();
    this.learner = undefined;
    // First: its timers stop, and the pass in flight ends before the storage it writes closes.
    await this.syncClient?.dispose();
    this.syncClient = undefined;
    const state = this.state;
    this.state = undefined;
    // Requests still running finish on it; it is freed after the last one.
    if (state) await state.lease.retire();
    this.storage?.close();
    this.storage = undefined;
  }
}

/** The model-loading chunk (src/engine/models/loading.ts), imported once, on the first init. */
let loading: Promise<typeof import('./models/loading.ts')> | undefined;
function modelLoading(): Promise<typeof import('./models/loading.ts')> {
  loading ??= import('./models/loading.ts').catch((error: unknown) => {
    loading = undefined;
    throw error;
  });
  return loading;
}

/** How many records between two trims of the log: a tenth of its size, 1 to 100. */
const trimStep = (maxLogEvents: number) => Math.max(1, Math.min(100, Math.floor(maxLogEvents / 10)));

/** The most a request may ask for: the GPU kernels keep up to this many candidates per workgroup. */
export const MAX_K = 256;

function checkRequest(request: RecommendRequest): number {
  const { k, diversity, weights, interests } = request;
  if (interests !== undefined && interests !== 'single' && interests !== 'multi')
    throw new InvalidRequestError(
      `recommend: interests must be "single" or "multi", got ${String(interests)}`,
    );
  if (!Number.isInteger(k) || k < 1 || k > MAX_K)
    throw new InvalidRequestError(`recommend: k must be an integer from 1 to ${MAX_K}, got ${k}`);
  if (diversity !== undefined && !(diversity >= 0 && diversity <= 1))
    throw new InvalidRequestError(`recommend: diversity must be in [0, 1], got ${diversity}`);
  for (const [head, w] of Object.entries(weights ?? {})) {
    if (!(RANKER_HEADS as readonly string[]).includes(head))
      throw new InvalidRequestError(
        `recommend: unknown utility weight "${head}" (heads: ${RANKER_HEADS.join(', ')})`,
      );
    if (!Number.isFinite(w))
      throw new InvalidRequestError(`recommend: utility weight ${head} must be a finite number`);
  }
  return k;
}

/** Runs an option check of core (which throws TypeError) so that it fails as an INVALID_OPTIONS error. */
function checkedOption(check: () => unknown): void {
  try {
    check();
  } catch (error) {
    throw new InvalidOptionsError(`createRecommender: ${(error as Error).message}`);
  }
}

/**
 * The ranker fusion this engine serves: the app's `rankerFusion`, else the bundle's validation choice
 * (manifest.defaultRanker; late for bundles from before early fusion).
 */
function servedFusion(manifest: BundleManifest, options: EngineOptions): RankerFusion {
  return options.rankerFusion ?? manifest.defaultRanker?.fusion ?? 'late';
}

/** Encoders always; rankers of `fusion` only. */
function ofFusion(entry: ModelEntry, fusion: RankerFusion): boolean {
  return entry.kind !== 'ranker' || (entry.fusion ?? 'late') === fusion;
}

/** Recent events oldest first, and the actions among them on items this bundle knows. */
function localActionsOf(state: ModelState, recent: Event[]): { events: Event[]; actions: Event[] } {
  const events = recent.sort((a, b) => a.ts - b.ts);
  const actions = events.filter((e) => e.action !== 'impression' && state.index.has(e.itemId));
  return { events, actions };
}

/** The compact encoder over `actions` (oldest first): the real-time user embedding; none without actions. */
async function realtimeEmbedding(state: ModelState, actions: Event[]): Promise<Float32Array | undefined> {
  if (actions.length === 0) return undefined;
  return encodeWindow(state, {
    items: actions.map((e) => state.index.get(e.itemId)!),
    actions: actions.map((e) => ACTION_CODE[e.action]),
    ts: actions.map((e) => e.ts),
  });
}

async function encodeWindow(state: ModelState, window: ActionWindow): Promise<Float32Array> {
  const dim = state.table.dim;
  const input = encoderInput(
    [window],
    state.encoderLength,
    dim,
    (item, out, offset) => writeItemRow(state.table, item, out, offset),
    slabF32,
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

/** The feed pipeline's runners on this bundle's sessions and retriever (a batch of queries in one call: one table read on WebGPU). */
function feedRunners(state: ModelState): FeedRunners {
  return {
    encode: (window) => encodeWindow(state, window),
    retrieve: async (queries, n, exclude) =>
      (await state.retriever.topKBatch(queries, n, exclude)).map((result) => result.indices),
    rank: ({ size, dim, userLong, userShort, item, context, window }) =>
      state.rankerScratch.use((allocate) =>
        state.ranker.run(
          {
            user_long: { data: userLong, dims: [size, dim] },
            user_short: { data: userShort, dims: [size, dim] },
            item: { data: item, dims: [size, dim] },
            context: { data: context, dims: [size, CONTEXT_DIM] },
            ...sequenceFeeds(
              state.ranker.entry,
              window,
              size,
              dim,
              (row, out, at) => writeItemRow(state.table, row, out, at),
              allocate,
            ),
          },
          'probs',
        ),
      ),
  };
}
