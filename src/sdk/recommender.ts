import { proxy } from 'comlink';
import type {
  ClearedBundles,
  DeletedLocalData,
  EngineOptions,
  EngineStatus,
  LearningStatus,
  ProgressEvent,
  RecommendRequest,
  RecommendResult,
  RecordedEvent,
  SetAsideEvent,
  SyncResult,
} from '../core/contract/index.ts';
import { EdgerecError } from '../core/errors.ts';
import type { Event } from '../core/events.ts';
import { cacheControl, type RecommenderCache } from './cache-control.ts';
import { cancellable, deadline, rejectOnAbort } from './cancel.ts';
import { connectEngine } from './engine-connection.ts';
import { installErrorTransfer } from './errors-transfer.ts';

/** Options of `createRecommender`: the engine's, plus what only the page can give (callbacks, a worker, a signal). */
export interface RecommenderOptions extends EngineOptions {
  /** Download, verify, compile and warm-up progress, per file where there is one. */
  onProgress?: (event: ProgressEvent) => void;
  /** A worker you created yourself (e.g. for a CSP that forbids module workers from blobs). */
  worker?: Worker;
  /**
   * Aborts the start: `createRecommender` rejects with an ABORTED error, the worker is ended and its
   * IndexedDB connection closed. Only the start: dispose() ends a recommender that has started.
   */
  signal?: AbortSignal;
  /** Rejects the start with a TIMEOUT error after this many ms, cleaning up as an abort does. */
  timeoutMs?: number;
  /**
   * One engine for every tab of the origin with the same bundleUrl/serverUrl, userId, databaseName, device
   * and dtype: a SharedWorker holds the item table and the GPU device once, later recommenders attach to
   * it, and it closes with the last one's dispose (or the last tab). Without SharedWorker, the tabs elect
   * a leader (Web Locks) whose worker serves the others over a BroadcastChannel, handing over when it
   * closes; with neither, or with `worker`, a dedicated worker as before. `status().engineScope` says
   * which. Default false.
   */
  shared?: boolean;
}

/** A request with the `signal` that abandons it (the result is dropped; the worker finishes the work). */
export type RecommendCall = RecommendRequest & {
  /** Abandons the call: it rejects with an ABORTED error as soon as the signal aborts. */
  signal?: AbortSignal;
};

/** How long an abandoned start may take to close its database before its worker is ended anyway. */
const CLOSE_WAIT_MS = 2000;

/** An engine running in a Web Worker; every method crosses to it and back. */
export interface Recommender {
  /** Rejects with an ABORTED error as soon as `request.signal` aborts. */
  recommend(request: RecommendCall): Promise<RecommendResult>;
  /** Stores an interaction on the device (and queues it for upload with a server); resolves with it as stored. */
  record(event: RecordedEvent): Promise<Event>;
  /** The engine's state: bundle version, backends, isolation, pending events, sync. */
  status(): Promise<EngineStatus>;
  /**
   * Checks for a newer bundle; with `serverUrl`, also uploads the outbox and syncs the embeddings (after
   * any pass in flight). Never rejects for a network or server failure: the result and `status().sync` say.
   */
  sync(): Promise<SyncResult>;
  /** A new bearer token for the sync server (after a 401 — `status().sync.state` 'unauthorized' — or a renewal). */
  setToken(token: string): Promise<void>;
  /**
   * Turns privacy mode on or off for this user — stored on the device and shared by every tab. On: events
   * recorded from now on (and those not yet uploaded) never leave the device; the server deletes the raw
   * events it holds at the next sync. Off: later events are uploaded again; those recorded in privacy mode
   * never are.
   */
  setPrivacy(on: boolean): Promise<void>;
  /**
   * Events the server refused (a 4xx for the event alone) or holds another event under their id: kept on
   * the device, never sent again, not blocking the others. `status().setAsideEvents` counts them.
   */
  setAsideEvents(limit?: number): Promise<SetAsideEvent[]>;
  /**
   * Deletes the cached model bundles (files and manifests of every version) to free space, and nothing
   * else: events not yet uploaded, hidden items, counts, embeddings and the privacy setting stay. The
   * running model keeps working; the next start downloads the bundle again, so it needs the network.
   */
  clearCache(): Promise<ClearedBundles>;
  /** The bundle cache: `info()`, `persist()`, `prune()`. */
  readonly cache: RecommenderCache;
  /**
   * Deletes this user's data on this device: every recorded event (those not yet uploaded too: they will
   * never be), hidden items, action counts, embeddings and sync bookkeeping. The bundle cache, other users'
   * data and privacy mode (when on) are kept; nothing on the server changes. Resolves with what it deleted.
   */
  deleteLocalData(): Promise<DeletedLocalData>;
  /** Destroys the retrieval GPU device, to check the CPU fallback; false when retrieval is not on WebGPU. */
  simulateDeviceLoss(): Promise<boolean>;
  /**
   * Runs on-device learning of the user embedding now (it also runs by itself a few events after
   * recording, in the worker; this run takes the place of one those events scheduled): resolves with the
   * learning status — backend, runs, steps, last loss.
   */
  learn(): Promise<LearningStatus>;
  /** Destroys the GPU device tfjs learns on, to check that learning carries on on wasm. */
  simulateLearningDeviceLoss(): Promise<boolean>;
  /**
   * Frees the GPU buffers and ORT sessions, and ends the worker; on a shared engine, detaches this
   * recommender, and only the last one's dispose frees and ends them; a leader tab's (no SharedWorker)
   * ends its engine and hands over to the next tab, which starts one from the cached bundle.
   */
  dispose(): Promise<void>;
}

/**
 * Starts the engine in a Web Worker and resolves once the bundle is loaded, verified and warmed up.
 * Every call crosses to the worker; the main thread never blocks on a model.
 */
export async function createRecommender(options: RecommenderOptions): Promise<Recommender> {
  installErrorTransfer();
  const { onProgress, worker: given, signal, timeoutMs, shared = false, ...engineOptions } = options;
  const start = deadline(signal, timeoutMs, 'createRecommender');
  if (start.signal.aborted) {
    start.dispose();
    await cancellable(start.signal, 'createRecommender', async () => {});
  }
  const connection = await connectEngine(engineOptions, shared, given);
  const { remote, errors } = connection;
  // A worker that fails to load never answers: its error event turns that into a clear failure.
  let onError: ((event: globalThis.Event) => void) | undefined;
  const failed = new Promise<never>((_, reject) => {
    onError = (event) =>
      reject(
        new EdgerecError(
          'WORKER_FAILED',
          `the edgerec worker failed to start: ${(event as Partial<ErrorEvent>).message || 'it could not be loaded'}`,
        ),
      );
    errors.addEventListener('error', onError);
  });
  const { aborted, remove } = rejectOnAbort(start.signal, 'createRecommender');
  try {
    await Promise.race([
      connection.ready.then(() => remote.init(engineOptions, onProgress ? proxy(onProgress) : undefined)),
      failed,
      aborted,
    ]);
  } catch (error) {
    // The engine closes its database before the worker ends, so that the page can delete or upgrade it
    // at once; a worker that never loaded cannot answer, hence the bounded wait. A shared engine only
    // detaches this recommender (and closes if it was the last).
    if (!(error instanceof EdgerecError && error.code === 'WORKER_FAILED'))
      await Promise.race([remote.dispose().catch(() => {}), delay(CLOSE_WAIT_MS)]);
    connection.close();
    throw error;
  } finally {
    errors.removeEventListener('error', onError!);
    remove();
    start.dispose();
  }
  let disposed = false;
  const live = () => {
    if (disposed) throw new EdgerecError('DISPOSED', 'this recommender was disposed');
    return remote;
  };
  return {
    recommend: ({ signal: requestSignal, ...request }) =>
      cancellable(requestSignal, 'recommend', () => live().recommend(request)),
    record: (event) => live().record(event),
    status: async () => {
      const status = await live().status();
      return { ...status, engineScope: connection.scope, connections: status.connections ?? 1 };
    },
    sync: () => live().sync(),
    setToken: (token) => live().setToken(token),
    setPrivacy: (on) => live().setPrivacy(on),
    setAsideEvents: (limit) => live().setAsideEvents(limit),
    clearCache: () => live().clearCache(),
    cache: cacheControl(live),
    deleteLocalData: () => live().deleteLocalData(),
    simulateDeviceLoss: () => live().simulateDeviceLoss(),
    learn: () => live().learn(),
    simulateLearningDeviceLoss: () => live().simulateLearningDeviceLoss(),
    async dispose() {
      if (disposed) return;
      disposed = true;
      await remote.dispose();
      connection.close();
    },
  };
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
