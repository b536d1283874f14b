/**
 * The engine's persistent storage, on IndexedDB (through `idb`): the bundle cache that lets the engine
 * start offline, the local event log (and the outbox the sync client drains), and per-user state.
 *
 * Bundle files are stored by SHA-256 and checked again when read, so a corrupt or tampered cache is
 * detected, deleted and refetched rather than fed to the models; a `VerifiedFiles` memo, passed by a caller
 * that reads the same files several times in one start, makes that check happen once per file. A version becomes current only in one
 * transaction that runs after all its files were stored and verified, so a half-downloaded update never
 * replaces a working one. Quota refusals surface as QuotaExceededStorageError from every write.
 */

import { type IDBPIndex, type IDBPTransaction, openDB, type StoreNames } from 'idb';
import {
  type BundleManifest,
  type BundleSource,
  BundleSourceError,
  type FileRef,
  IntegrityError,
  MANIFEST_FILE,
  parseManifest,
  validateManifest,
  verifyFile,
} from '../../core/bundle/index.ts';
import type { ClearedBundles, DeletedUserData, SetAsideEvent } from '../../core/contract/types.ts';
import { InputError, StorageBlockedError } from '../../core/errors.ts';
import { type Event, validateEvent } from '../../core/events.ts';
import {
  CachedFileIntegrityError,
  IncompleteVersionError,
  isQuotaError,
  NotCachedError,
  QuotaExceededStorageError,
  StorageClosedError,
  StorageUnavailableError,
} from './errors.ts';
import {
  DB_VERSION,
  DEFAULT_DB_NAME,
  type EdgerecDatabase,
  type EdgerecDB,
  type EventRecord,
  type ManifestRecord,
  type MetaKey,
  STORE_NAMES,
  type StoreName,
  type SyncedFlag,
  type UserState,
  upgradeSchema,
} from './schema.ts';
import { SnapshotCache, type UserSnapshot } from './snapshot-cache.ts';

export {
  CachedFileIntegrityError,
  IncompleteVersionError,
  NotCachedError,
  QuotaExceededStorageError,
  StorageClosedError,
  StorageUnavailableError,
} from './errors.ts';
export {
  DB_VERSION,
  DEFAULT_DB_NAME,
  type EdgerecDB,
  type EventRecord,
  type FileRecord,
  type ManifestRecord,
  type SyncedFlag,
  type UserCounts,
  type UserState,
} from './schema.ts';

/** Something the storage recovered from, or could not act on, without failing the call. */
export type StorageWarning =
  | {
      kind: 'corrupt-file';
      message: string;
      version: string;
      file: string;
      sha256: string;
      error: IntegrityError;
    }
  /** Another connection (an older tab) keeps this one from opening until it closes. */
  | { kind: 'blocked'; message: string }
  /** The connection was closed under us: a newer schema in another tab, or the browser. */
  | { kind: 'closed'; message: string };

export interface EngineStorageOptions {
  /** Called for every StorageWarning; defaults to console.warn. */
  onWarning?: (warning: StorageWarning) => void;
  /**
   * How long an open blocked by another connection may wait before it fails with StorageBlockedError
   * (default 5 s): an older tab that never closes must not park this one forever.
   */
  blockedTimeoutMs?: number;
  /** The schema version to open: DB_VERSION, except in tests that play a newer release. */
  version?: number;
}

/** How long a blocked open waits for the other connections to close by default. */
export const BLOCKED_TIMEOUT_MS = 5000;

/** Progress of `prefetch`, reported after each file. */
export interface PrefetchProgress {
  version: string;
  /** The file just handled. */
  file: string;
  /** Whether it was already cached (and verified) rather than downloaded. */
  fromCache: boolean;
  loadedFiles: number;
  totalFiles: number;
  loadedBytes: number;
  totalBytes: number;
  /** The size of `file`. */
  fileBytes: number;
}

/** Bytes of one file downloading in `prefetch`, as they arrive. */
export interface ByteProgress {
  file: string;
  loaded: number;
  /** The file's size (its manifest entry). */
  bytes: number;
  /** The size of every file the prefetch stores, cached ones included. */
  totalBytes: number;
}

/** What `pruneExcept` removed. */
export interface PruneResult {
  removedVersions: string[];
  removedFiles: number;
}

/**
 * The files one start (or one bundle switch) has already verified, by SHA-256 and the `storedAt` of the
 * stored copy it hashed: later reads of the same copy in that start skip the hash. Scoped to a start on
 * purpose — a copy changed behind the engine's back is caught at the next start.
 */
export class VerifiedFiles {
  private readonly copies = new Map<string, number>();
  /**
   * Files this start downloaded, verified and stored: their bytes, so that loading them reads nothing
   * back from IndexedDB (a first visit's item table and catalog, megabytes each, were read back right
   * after being written).
   */
  private readonly downloaded = new Map<string, Uint8Array>();
  /** SHA-256 hashes computed through this memo (a test counts them). */
  hashed = 0;

  has(sha256: string, storedAt: number): boolean {
    return this.copies.get(sha256) === storedAt;
  }

  add(sha256: string, storedAt: number, bytes?: Uint8Array): void {
    this.copies.set(sha256, storedAt);
    if (bytes) this.downloaded.set(sha256, bytes);
  }

  /** The bytes of `sha256` if this start downloaded and verified them. */
  download(sha256: string): Uint8Array | undefined {
    return this.downloaded.get(sha256);
  }
}

/** Why an event appended in privacy mode is kept local only. */
export const PRIVACY_REASON = 'recorded in privacy mode';

/** Meta keys only the storage itself writes (through setCurrent / prefetch). */
const RESERVED_META = new Set<string>(['current', 'previous', 'pending'] satisfies MetaKey[]);

/** Files above this are stored as Blobs, under Chromium's 127 MiB limit on one IndexedDB value. */
const BLOB_THRESHOLD = 64 * 1024 * 1024;

/** Downloads in flight at once during a prefetch: enough to hide latency, few enough to be polite. */
const PREFETCH_CONCURRENCY = 3;

/** Every file a manifest names (item tables and their scales, catalog, models), one per SHA-256. */
export function manifestFiles(manifest: BundleManifest): FileRef[] {
  const refs: FileRef[] = [];
  for (const table of manifest.items) {
    refs.push(table);
    if (table.scales) refs.push(table.scales);
  }
  refs.push(manifest.catalog, ...manifest.rankers, ...manifest.encoders);
  const seen = new Set<string>();
  return refs
    .filter((ref) => !seen.has(ref.sha256) && seen.add(ref.sha256))
    .map(({ file, bytes, sha256 }) => ({ file, bytes, sha256 }));
}

/** An ArrayBuffer holding exactly `bytes`, copying only when the view does not cover its whole buffer. */
function exactBuffer(bytes: Uint8Array): ArrayBuffer {
  if (
    bytes.buffer instanceof ArrayBuffer &&
    bytes.byteOffset === 0 &&
    bytes.byteLength === bytes.buffer.byteLength
  )
    return bytes.buffer;
  return bytes.slice().buffer as ArrayBuffer;
}

function abortQuietly(tx: IDBTransaction | { abort(): void }): void {
  try {
    tx.abort();
  } catch {
    // Already committed or aborted: nothing left to undo.
  }
}

/**
 * The `limit` (≥ 1) newest events of a user, oldest first, in three requests whatever the limit (a cursor
 * stepped one event at a time took one request per event: up to 500 per recommend()). A key cursor walks
 * back `limit - 1` keys in one advance to the oldest key wanted; getAll then reads from there on. Events
 * that share that key's ts come back too and are cut off the front: getAll's ascending (ts, id) order is
 * the exact reverse of the backward walk's, so the events kept are the ones the walk would have met first.
 */
async function newestEvents(
  index: IDBPIndex<EdgerecDB, ArrayLike<StoreNames<EdgerecDB>>, 'events', 'by-user-ts'>,
  userId: string,
  limit: number,
): Promise<Event[]> {
  let cursor = await index.openKeyCursor(userRange(userId), 'prev');
  if (cursor && limit > 1) cursor = await cursor.advance(limit - 1);
  const range = cursor ? IDBKeyRange.bound(cursor.key, [userId, Infinity]) : userRange(userId);
  const records = await index.getAll(range);
  return records.slice(Math.max(0, records.length - limit)).map(eventOf);
}

function eventOf(record: EventRecord): Event {
  // The outbox flags are storage bookkeeping; an Event with them would fail validateEvent (unknown field).
  const { synced: _synced, localReason: _localReason, ...event } = record;
  return event;
}

/**
 * The failure of an open that stays blocked for `wait` ms after its `blocked` event. The open request itself
 * cannot be cancelled: when the other connection finally closes, the late connection is closed at once.
 */
function blockedAfter(name: string, wait: number) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let fail: (error: StorageBlockedError) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    fail = reject;
  });
  failed.catch(() => {});
  return {
    failed,
    start(current: number, next: number) {
      timer ??= setTimeout(
        () =>
          fail(
            new StorageBlockedError(
              `database ${name} cannot be upgraded from v${current} to v${next}: another connection (an ` +
                `edgerec tab of an older release, or another script of this origin) kept it open for ${wait} ms ` +
                'and did not close on request; close or reload the other tabs of this site',
              name,
              wait,
            ),
          ),
        wait,
      );
    },
    stop() {
      clearTimeout(timer);
    },
  };
}

/** The `by-synced-ts` keys of every event in one outbox state. */
const syncedRange = (flag: SyncedFlag) => IDBKeyRange.bound([flag, -Infinity], [flag, Infinity]);
/** The `by-user-ts` keys of every event of one user. */
const userRange = (userId: string) => IDBKeyRange.bound([userId, -Infinity], [userId, Infinity]);

function checkUserState(s: UserState): void {
  if (typeof s.userId !== 'string' || s.userId.length === 0)
    throw new InputError('user state: userId must be a non-empty string');
  if (s.longTerm && !(Array.isArray(s.longTerm.vector) && s.longTerm.vector.every(Number.isFinite)))
    throw new InputError('user state: longTerm.vector must be an array of finite numbers');
}

function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 0)
    throw new InputError(`limit must be a non-negative integer, got ${limit}`);
}

/** IndexedDB storage of one engine: bundles, the event log, user state. Open it with `EngineStorage.open`. */
export class EngineStorage {
  private closedReason: string | undefined;
  private readonly snapshots: SnapshotCache;

  private constructor(
    private readonly db: EdgerecDatabase,
    /** The database name. */
    readonly name: string,
    private readonly warn: (warning: StorageWarning) => void,
  ) {
    this.snapshots = new SnapshotCache(`edgerec-storage:${name}`);
  }

  /**
   * Opens (creating or upgrading) the database `name` (default `edgerec`). Throws a
   * StorageUnavailableError when IndexedDB cannot be used.
   */
  static async open(
    name: string = DEFAULT_DB_NAME,
    options: EngineStorageOptions = {},
  ): Promise<EngineStorage> {
    const warn = options.onWarning ?? ((w: StorageWarning) => console.warn(`[edgerec storage] ${w.message}`));
    if (typeof indexedDB === 'undefined')
      throw new StorageUnavailableError('IndexedDB is not available here');
    // The instance does not exist yet when the callbacks are made; they reach it through this box.
    const box: { storage?: EngineStorage } = {};
    let db: EdgerecDatabase;
    const wait = options.blockedTimeoutMs ?? BLOCKED_TIMEOUT_MS;
    const version = options.version ?? DB_VERSION;
    const blocked = blockedAfter(name, wait);
    let opening: Promise<EdgerecDatabase> | undefined;
    try {
      opening = openDB<EdgerecDB>(name, version, {
        upgrade: (database, oldVersion) => upgradeSchema(database, oldVersion),
        blocked: (current) => {
          warn({
            kind: 'blocked',
            message: `database ${name} v${current} is open elsewhere; waiting up to ${wait} ms for it to close to upgrade`,
          });
          blocked.start(current, version);
        },
        // A newer schema is waiting on this connection (another tab updated): step aside rather than
        // block that tab forever; this instance then fails its calls with StorageClosedError.
        blocking: (_current, next) =>
          box.storage?.markClosed(`another connection upgrades ${name} to v${next}`, true),
        terminated: () => box.storage?.markClosed('the browser closed the connection', false),
      });
      db = await Promise.race([opening, blocked.failed]);
    } catch (error) {
      if (error instanceof StorageBlockedError) {
        void opening?.then((late) => late.close()).catch(() => {});
        throw error;
      }
      throw new StorageUnavailableError(
        `could not open IndexedDB database ${name}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    } finally {
      blocked.stop();
    }
    box.storage = new EngineStorage(db, name, warn);
    return box.storage;
  }

  private markClosed(reason: string, close: boolean): void {
    if (this.closedReason) return;
    this.closedReason = reason;
    this.snapshots.close();
    if (close) this.db.close();
    this.warn({ kind: 'closed', message: `database ${this.name} closed: ${reason}` });
  }

  private database(): EdgerecDatabase {
    if (this.closedReason) throw new StorageClosedError(this.closedReason);
    return this.db;
  }

  /**
   * Runs `body` in one read-write transaction and waits for it to commit. A failure rolls the whole
   * transaction back; a quota refusal — which Chromium reports at commit, after every put succeeded, as
   * the transaction's error — becomes a QuotaExceededStorageError naming `what` and `bytes`.
   */
  private async write<const S extends StoreName[], T>(
    stores: S,
    what: string,
    bytes: number,
    body: (tx: IDBPTransaction<EdgerecDB, S, 'readwrite'>) => Promise<T>,
  ): Promise<T> {
    const tx = this.database().transaction(stores, 'readwrite');
    const userData = stores.includes('users') || stores.includes('events');
    // Awaited below; until then an abort must not surface as an unhandled rejection.
    tx.done.catch(() => {});
    // Chromium can abort a transaction without failing the pending request (an oversized value does
    // that), so the body races the transaction's end: an abort then surfaces instead of hanging.
    const aborted = tx.done.then(() => new Promise<never>(() => {}));
    aborted.catch(() => {});
    try {
      const result = await Promise.race([body(tx), aborted]);
      await tx.done;
      return result;
    } catch (error) {
      const quota = isQuotaError(error) ? error : isQuotaError(tx.error) ? tx.error : undefined;
      abortQuietly(tx);
      if (quota) throw new QuotaExceededStorageError(what, bytes, { cause: quota });
      throw error;
    } finally {
      if (userData) this.snapshots.written();
    }
  }

  // ---------------------------------------------------------------------------------------------- bundles

  /**
   * A BundleSource for bundle `version` that reads from IndexedDB first and from `network` only for what
   * is missing, storing what it fetches. Every cached file is verified (length + SHA-256) on each read; a
   * mismatch is reported through the warning callback, the copy deleted and fetched again from `network`
   * — and when that is impossible, a CachedFileIntegrityError is thrown, never the bad bytes. The manifest
   * fetched from the network is validated, and must be `version`, before it is cached. With everything
   * cached it works offline: `network` may be undefined or failing.
   */
  cachedSource(network: BundleSource | undefined, version: string, verified?: VerifiedFiles): BundleSource {
    let manifest: Promise<BundleManifest> | undefined;
    const loadManifest = (): Promise<BundleManifest> => {
      // Shared by concurrent reads; forgotten on failure so a later read (back online) retries.
      manifest ??= this.cachedManifest(network, version).catch((error) => {
        manifest = undefined;
        throw error;
      });
      return manifest;
    };
    const refOf = async (path: string): Promise<FileRef> => {
      const ref = manifestFiles(await loadManifest()).find((r) => r.file === path);
      // Only files the manifest lists can be verified, so only those are served.
      if (!ref) throw new BundleSourceError(`${path} is not a file of bundle ${version}`, path);
      return ref;
    };
    const readBytes = async (path: string): Promise<Uint8Array> =>
      this.readFile(await refOf(path), network, version, verified);
    return {
      readText: async (path) => {
        if (path === MANIFEST_FILE) return JSON.stringify(await loadManifest());
        return new TextDecoder('utf-8', { fatal: true }).decode(await readBytes(path));
      },
      readBytes,
      // Every byte served was checked against this manifest: a caller's ref of the same file and hash
      // needs no second hash; any other ref is checked against the bytes.
      readVerified: async (wanted) => {
        const ref = await refOf(wanted.file);
        const bytes = await this.readFile(ref, network, version, verified);
        if (ref.sha256 !== wanted.sha256 || ref.bytes !== wanted.bytes) await verifyFile(wanted, bytes);
        return bytes;
      },
      describe: () =>
        `IndexedDB ${this.name}, bundle ${version}${network ? ` (else ${network.describe()})` : ''}`,
    };
  }

  private async cachedManifest(network: BundleSource | undefined, version: string): Promise<BundleManifest> {
    const record = await this.database().get('manifests', version);
    if (record) return record.manifest;
    if (!network) throw new NotCachedError(MANIFEST_FILE, version);
    const where = `${network.describe()}${MANIFEST_FILE}`;
    const manifest = parseManifest(await network.readText(MANIFEST_FILE), where);
    if (manifest.version !== version)
      throw new BundleSourceError(`${where} is bundle ${manifest.version}, expected ${version}`, where);
    await this.storeManifest(manifest, network.describe());
    return manifest;
  }

  private async storeManifest(manifest: BundleManifest, baseUrl: string, pending = false): Promise<void> {
    const record: ManifestRecord = { version: manifest.version, manifest, baseUrl, storedAt: Date.now() };
    const size = JSON.stringify(manifest).length;
    await this.write(['manifests', 'meta'], `manifest of ${manifest.version}`, size, async (tx) => {
      await tx.objectStore('manifests').put(record);
      if (pending) await tx.objectStore('meta').put(manifest.version, 'pending');
    });
  }

  /** The bytes of `ref`: the cached copy if it verifies, otherwise fetched from `network`, verified, stored. */
  private async readFile(
    ref: FileRef,
    network: BundleSource | undefined,
    version: string,
    verified?: VerifiedFiles,
  ): Promise<Uint8Array> {
    const cached = await this.verifiedCachedFile(ref, version, verified);
    return cached.bytes ?? this.fetchFile(ref, network, version, cached.error, verified);
  }

  /**
   * Fetches `ref` from `network`, verifies and stores it. `cachedError` is why the cached copy was just
   * deleted; when the refetch fails too, that is what the caller hears (wrapped with the refetch's error).
   */
  private async fetchFile(
    ref: FileRef,
    network: BundleSource | undefined,
    version: string,
    cachedError?: IntegrityError,
    verified?: VerifiedFiles,
    onBytes?: (loaded: number) => void,
  ): Promise<Uint8Array> {
    let bytes: Uint8Array;
    try {
      if (!network) throw new NotCachedError(ref.file, version);
      bytes = await network.readBytes(ref.file, onBytes);
    } catch (error) {
      if (cachedError) throw new CachedFileIntegrityError(cachedError, error);
      throw error;
    }
    // A bad download is reported as is and never stored.
    await verifyFile(ref, bytes);
    if (verified) verified.hashed++;
    const storedAt = Date.now();
    await this.write(['files'], `file ${ref.file}`, bytes.byteLength, async (tx) => {
      await tx.objectStore('files').put({
        sha256: ref.sha256,
        bytes: bytes.byteLength > BLOB_THRESHOLD ? new Blob([exactBuffer(bytes)]) : exactBuffer(bytes),
        size: bytes.byteLength,
        storedAt,
      });
    });
    verified?.add(ref.sha256, storedAt, bytes);
    return bytes;
  }

  /** The cached copy of `ref` if it verifies; a copy that does not is deleted and its error returned. */
  private async verifiedCachedFile(
    ref: FileRef,
    version: string,
    verified?: VerifiedFiles,
  ): Promise<{ bytes?: Uint8Array; error?: IntegrityError }> {
    const downloaded = verified?.download(ref.sha256);
    if (downloaded) return { bytes: downloaded };
    const record = await this.database().get('files', ref.sha256);
    if (!record) return {};
    const bytes = new Uint8Array(
      record.bytes instanceof Blob ? await record.bytes.arrayBuffer() : record.bytes,
    );
    // This very copy was hashed earlier in the same start: the length is checked, the hash not again.
    if (verified?.has(ref.sha256, record.storedAt) && bytes.byteLength === ref.bytes) return { bytes };
    try {
      await verifyFile(ref, bytes);
      if (verified) {
        verified.hashed++;
        verified.add(ref.sha256, record.storedAt);
      }
      return { bytes };
    } catch (error) {
      if (!(error instanceof IntegrityError)) throw error;
      await this.write(['files'], `deletion of ${ref.file}`, 0, async (tx) => {
        // Only the copy that failed: a concurrent read may have stored a good one since.
        const store = tx.objectStore('files');
        if ((await store.get(ref.sha256))?.storedAt === record.storedAt) await store.delete(ref.sha256);
      });
      this.warn({
        kind: 'corrupt-file',
        message: `cached ${ref.file} of bundle ${version} failed verification and was deleted (${error.message})`,
        version,
        file: ref.file,
        sha256: ref.sha256,
        error,
      });
      return { error };
    }
  }

  /**
   * Downloads bundle `manifest.version` in the background: stores its manifest (and marks it `pending`),
   * then every file it lists that is not already cached and valid, each verified before it is stored.
   * Throws on the first failure, after the downloads in flight settle; `current` is never touched — call
   * `setCurrent` once this resolves. Running it again resumes: verified files are not downloaded twice.
   */
  async prefetch(
    network: BundleSource,
    manifest: BundleManifest,
    onProgress?: (progress: PrefetchProgress) => void,
    files: (manifest: BundleManifest) => FileRef[] = manifestFiles,
    verified?: VerifiedFiles,
    onBytes?: (progress: ByteProgress) => void,
  ): Promise<void> {
    // Typed is not validated: the manifest may come straight from a server response.
    validateManifest(manifest, `${network.describe()}${MANIFEST_FILE}`);
    const { version } = manifest;
    await this.storeManifest(manifest, network.describe(), true);
    const refs = files(manifest);
    const totalBytes = refs.reduce((sum, r) => sum + r.bytes, 0);
    let loadedFiles = 0;
    let loadedBytes = 0;
    let next = 0;
    let failure: { error: unknown } | undefined;
    const worker = async (): Promise<void> => {
      while (!failure && next < refs.length) {
        const ref = refs[next++];
        try {
          const cached = await this.verifiedCachedFile(ref, version, verified);
          const bytes = onBytes
            ? (loaded: number) => onBytes({ file: ref.file, loaded, bytes: ref.bytes, totalBytes })
            : undefined;
          if (!cached.bytes) await this.fetchFile(ref, network, version, cached.error, verified, bytes);
          loadedFiles++;
          loadedBytes += ref.bytes;
          onProgress?.({
            version,
            file: ref.file,
            fromCache: cached.bytes !== undefined,
            loadedFiles,
            totalFiles: refs.length,
            loadedBytes,
            totalBytes,
            fileBytes: ref.bytes,
          });
        } catch (error) {
          failure ??= { error };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PREFETCH_CONCURRENCY, refs.length) }, worker));
    if (failure) throw failure.error;
  }

  /** The version the engine runs, as last switched by `setCurrent`. */
  async currentVersion(): Promise<string | undefined> {
    return (await this.database().get('meta', 'current')) as string | undefined;
  }

  /**
   * Makes `version` current, atomically. First re-verifies every file of its manifest from IndexedDB
   * (deleting any that fail; with `verified`, files that memo already holds are not hashed again); throws an IncompleteVersionError listing what is missing, leaving `current`
   * as it was. Then one transaction checks that the manifest and every file are still there (another tab
   * may have pruned meanwhile) and switches `current` (keeping the old one as `previous`).
   */
  async setCurrent(
    version: string,
    files?: (manifest: BundleManifest) => FileRef[],
    verified?: VerifiedFiles,
  ): Promise<void> {
    const record = await this.database().get('manifests', version);
    if (!record) throw new IncompleteVersionError(version, [MANIFEST_FILE]);
    // The engine needs a subset (one item-table dtype, the student variants): it names it, so a phone is
    // not made to download the f32 table and the teacher to switch versions. Default: every file.
    const refs = (files ?? manifestFiles)(record.manifest);
    const missing: string[] = [];
    // One file at a time: this only checks, so there is no point holding the whole bundle in memory.
    for (const ref of refs)
      if (!(await this.verifiedCachedFile(ref, version, verified)).bytes) missing.push(ref.file);
    if (missing.length > 0) throw new IncompleteVersionError(version, missing);
    // Hashing cannot happen inside a transaction (it would auto-commit while WebCrypto works), hence the
    // re-check of keys here; files are immutable by content, so present now means verified above.
    await this.write(['manifests', 'files', 'meta'], `current version ${version}`, 0, async (tx) => {
      const gone: string[] = [];
      if (!(await tx.objectStore('manifests').getKey(version))) gone.push(MANIFEST_FILE);
      const files = tx.objectStore('files');
      for (const ref of refs) if (!(await files.getKey(ref.sha256))) gone.push(ref.file);
      if (gone.length > 0) throw new IncompleteVersionError(version, gone);
      const meta = tx.objectStore('meta');
      const previous = await meta.get('current');
      if (previous !== undefined && previous !== version) await meta.put(previous, 'previous');
      await meta.put(version, 'current');
      if ((await meta.get('pending')) === version) await meta.delete('pending');
    });
  }

  /** The stored manifest record of `version` (with the base URL it came from), if any. */
  async manifestRecord(version: string): Promise<ManifestRecord | undefined> {
    return this.database().get('manifests', version);
  }

  /** The versions whose manifests are stored (complete or not). */
  async versions(): Promise<string[]> {
    return this.database().getAllKeys('manifests');
  }

  /**
   * Deletes the manifests of every version not in `versions`, then every file no kept manifest references,
   * in one transaction. The current and the pending version are always kept, so pruning can never leave
   * the engine without the bundle it runs.
   */
  async pruneExcept(versions: readonly string[]): Promise<PruneResult> {
    return this.prune(versions, false);
  }

  /**
   * Keeps the current and the previous version (a rollback target, and what a tab started before the
   * switch may still read), and the pending one; deletes every other version and the files only they use.
   * The engine calls it after each successful switch, so the cache holds two versions, not all of them.
   */
  async pruneToRecent(): Promise<PruneResult> {
    return this.prune([], true);
  }

  private async prune(versions: readonly string[], keepPrevious: boolean): Promise<PruneResult> {
    return this.write(['manifests', 'files', 'meta'], 'prune', 0, async (tx) => {
      const meta = tx.objectStore('meta');
      const keep = new Set(versions);
      for (const key of keepPrevious
        ? (['current', 'pending', 'previous'] as const)
        : (['current', 'pending'] as const)) {
        const value = await meta.get(key);
        if (typeof value === 'string') keep.add(value);
      }
      const referenced = new Set<string>();
      const removedVersions: string[] = [];
      for (
        let cursor = await tx.objectStore('manifests').openCursor();
        cursor;
        cursor = await cursor.continue()
      ) {
        if (keep.has(cursor.key)) {
          for (const ref of manifestFiles(cursor.value.manifest)) referenced.add(ref.sha256);
        } else {
          removedVersions.push(cursor.key);
          await cursor.delete();
        }
      }
      // `previous` is a rollback target only while its files exist.
      const previous = await meta.get('previous');
      if (typeof previous === 'string' && !keep.has(previous)) await meta.delete('previous');
      let removedFiles = 0;
      // A key cursor: deciding needs only the hash, not the file's bytes.
      for (
        let cursor = await tx.objectStore('files').openKeyCursor();
        cursor;
        cursor = await cursor.continue()
      ) {
        if (referenced.has(cursor.key)) continue;
        await tx.objectStore('files').delete(cursor.key);
        removedFiles++;
      }
      return { removedVersions, removedFiles };
    });
  }

  // ------------------------------------------------------------------------------------- meta, events, users

  /** A value of the `meta` store (the sync client keeps its cursors there). */
  /** The size of every stored bundle file, by SHA-256 (Blob-backed files are not read, only sized). */
  async storedFileSizes(): Promise<Map<string, number>> {
    const sizes = new Map<string, number>();
    for (
      let cursor = await this.database().transaction('files').store.openCursor();
      cursor;
      cursor = await cursor.continue()
    )
      sizes.set(cursor.key, cursor.value.size);
    return sizes;
  }

  async meta<T = unknown>(key: string): Promise<T | undefined> {
    return (await this.database().get('meta', key)) as T | undefined;
  }

  /** Sets a `meta` value; `current`, `previous` and `pending` are the storage's own and refused. */
  async setMeta(key: string, value: unknown): Promise<void> {
    if (RESERVED_META.has(key)) throw new InputError(`meta key ${key} is managed by EngineStorage`);
    await this.write(['meta'], `meta ${key}`, JSON.stringify(value ?? null).length, async (tx) => {
      await tx.objectStore('meta').put(value, key);
    });
  }

  /**
   * Appends an event to the local log, after validating it against the Event contract (an
   * EventValidationError names every problem). Idempotent by `id`: an event already logged is left as it
   * is — its sync state included — and `false` returned.
   *
   * Privacy is decided here, in the append's own transaction: when the user's stored privacy flag is on,
   * the event is stored local only and never enters the outbox — whatever any tab does later, turning
   * privacy off included. Reading the flag and adding the event in one transaction means a tab turning
   * privacy on (`setPrivacy`) and a tab appending are ordered by IndexedDB: either the append sees the
   * flag, or `setPrivacy` sees the event (and takes it out of the outbox).
   *
   * `updateUser` (it must not await) changes the user's state in the same transaction: a counted action
   * and its event are stored together or not at all.
   */
  async appendEvent(
    e: Event,
    updateUser?: (current: UserState | undefined, event: Event) => UserState,
  ): Promise<boolean> {
    const event = validateEvent(e);
    const size = JSON.stringify(event).length + 64;
    const generation = this.snapshots.begin();
    const cached = this.snapshots.peek(event.userId);
    let stored: UserState | undefined;
    const appended = await this.write(['events', 'users'], `event ${event.id}`, size, async (tx) => {
      const store = tx.objectStore('events');
      // get + add in one transaction: no other write to the store can slip in between.
      if (await store.getKey(event.id)) return false;
      const users = tx.objectStore('users');
      const user = await users.get(event.userId);
      const record: EventRecord =
        user?.privacy === true
          ? { ...event, synced: 2, localReason: PRIVACY_REASON }
          : { ...event, synced: 0 };
      await store.add(record);
      if (updateUser) {
        const next = updateUser(user, event);
        if (next.userId !== event.userId)
          throw new InputError(`user state: updateUser returned user ${next.userId}, not ${event.userId}`);
        checkUserState(next);
        // The flag is the one read above: a callback cannot turn privacy off by leaving it out.
        stored = user?.privacy ? { ...next, privacy: true } : next;
        await users.put(stored);
      } else stored = user;
      return true;
    });
    if (appended) this.snapshots.appended(generation, cached, event, stored);
    return appended;
  }

  /** Whether privacy mode is on for `userId` (stored, shared by every tab). */
  async privacy(userId: string): Promise<boolean> {
    return (await this.database().get('users', userId))?.privacy === true;
  }

  /**
   * Turns privacy mode on or off for `userId`, for every tab and later start. Turning it on also takes the
   * user's pending events out of the outbox (local only, in the same transaction: nothing the user did
   * before is uploaded after), as the server deletes the raw events it holds. Turning it off changes
   * nothing already stored: events recorded in privacy mode stay local for good. Returns how many pending
   * events were kept local.
   */
  async setPrivacy(userId: string, on: boolean, emptyState: () => UserState): Promise<number> {
    return this.write(['users', 'events'], `privacy of ${userId}`, 0, async (tx) => {
      const users = tx.objectStore('users');
      const user = (await users.get(userId)) ?? emptyState();
      await users.put({ ...user, privacy: on });
      if (!on) return 0;
      let moved = 0;
      const index = tx.objectStore('events').index('by-synced-ts');
      for (let cursor = await index.openCursor(syncedRange(0)); cursor; cursor = await cursor.continue()) {
        if (cursor.value.userId !== userId) continue;
        await cursor.update({
          ...cursor.value,
          synced: 2,
          localReason: 'pending when privacy mode was turned on',
        });
        moved++;
      }
      return moved;
    });
  }

  /** The user's `limit` most recent events, oldest first (the order the sequence encoder reads). */
  async recentEvents(userId: string, limit: number): Promise<Event[]> {
    checkLimit(limit);
    if (limit === 0) return [];
    return newestEvents(this.database().transaction('events').store.index('by-user-ts'), userId, limit);
  }

  /**
   * What recommend() reads before it encodes: the user's stored state and `limit` most recent events
   * (oldest first), in one read-only transaction, the two reads in flight together — or, when no write to
   * either store was seen since it was last read (an event this storage appended is folded in), from
   * memory (src/engine/storage/snapshot-cache.ts).
   */
  async userSnapshot(userId: string, limit: number): Promise<UserSnapshot> {
    checkLimit(limit);
    const cached = this.snapshots.get(userId, limit);
    if (cached) return cached;
    const generation = this.snapshots.begin();
    const tx = this.database().transaction(['users', 'events']);
    const user = tx.objectStore('users').get(userId);
    const events =
      limit === 0 ? [] : await newestEvents(tx.objectStore('events').index('by-user-ts'), userId, limit);
    const snapshot = { user: await user, events };
    this.snapshots.put(generation, userId, limit, snapshot);
    return snapshot;
  }

  /**
   * Trims the user's local log to its `keep` newest events, never deleting one that is pending upload or
   * set aside (those stay however old: the first is owed to the server, the second is reported). Returns
   * how many were deleted.
   */
  async trimEvents(userId: string, keep: number): Promise<number> {
    checkLimit(keep);
    return this.write(['events'], `trim of ${userId}'s log`, 0, async (tx) => {
      const index = tx.objectStore('events').index('by-user-ts');
      let cursor = await index.openCursor(userRange(userId), 'prev');
      // Skips the newest `keep` without reading them one by one.
      if (cursor && keep > 0) cursor = await cursor.advance(keep);
      let deleted = 0;
      for (; cursor; cursor = await cursor.continue()) {
        const synced = cursor.value.synced;
        if (synced === 1 || synced === 2) {
          await cursor.delete();
          deleted++;
        }
      }
      return deleted;
    });
  }

  /**
   * Up to `limit` events not yet marked synced, oldest first: the outbox the sync client sends. With
   * `userId`, only that user's (a database may hold several users' logs; a token uploads only its own).
   */
  async unsynced(limit: number, userId?: string): Promise<Event[]> {
    checkLimit(limit);
    if (limit === 0) return [];
    if (userId === undefined) {
      const records = await this.database().getAllFromIndex('events', 'by-synced-ts', syncedRange(0), limit);
      return records.map(eventOf);
    }
    const events: Event[] = [];
    const index = this.database().transaction('events').store.index('by-synced-ts');
    for (let cursor = await index.openCursor(syncedRange(0)); cursor; cursor = await cursor.continue()) {
      if (cursor.value.userId === userId) events.push(eventOf(cursor.value));
      if (events.length >= limit) break;
    }
    return events;
  }

  /** How many events wait in the outbox (all users): an index count, no record is read. */
  async countUnsynced(): Promise<number> {
    return this.database().countFromIndex('events', 'by-synced-ts', syncedRange(0));
  }

  /** How many events are kept local only (recorded in privacy mode, or pending when it was turned on). */
  async countLocalOnly(): Promise<number> {
    return this.database().countFromIndex('events', 'by-synced-ts', syncedRange(2));
  }

  /** How many events are set aside (the server refused them), all users: an index count. */
  async countSetAside(): Promise<number> {
    return this.database().countFromIndex('events', 'by-synced-ts', syncedRange(3));
  }

  /** The events set aside, oldest first, with why; with `userId`, only that user's. */
  async setAsideEvents(limit: number, userId?: string): Promise<SetAsideEvent[]> {
    checkLimit(limit);
    const found: SetAsideEvent[] = [];
    if (limit === 0) return found;
    const index = this.database().transaction('events').store.index('by-synced-ts');
    for (let cursor = await index.openCursor(syncedRange(3)); cursor; cursor = await cursor.continue()) {
      if (userId === undefined || cursor.value.userId === userId)
        found.push({ event: eventOf(cursor.value), reason: cursor.value.localReason ?? '' });
      if (found.length >= limit) break;
    }
    return found;
  }

  /** Marks pending events as accepted by the server; unknown ids are ignored. Returns how many changed. */
  async markSynced(ids: readonly string[]): Promise<number> {
    return this.setSynced(ids, 1);
  }

  /**
   * Takes pending events out of the outbox for good, keeping them in the local log (the encoder still
   * reads them). `reason` is stored with each. Only pending events change. Returns how many changed.
   */
  async markLocalOnly(ids: readonly string[], reason: string): Promise<number> {
    return this.setSynced(ids, 2, reason);
  }

  /**
   * Sets pending events aside: the server refused them (a 4xx for the event alone), or holds another event
   * under the same id. Kept and reported (`setAsideEvents`), never sent again, never blocking the outbox.
   */
  async markSetAside(ids: readonly string[], reason: string): Promise<number> {
    return this.setSynced(ids, 3, reason);
  }

  private async setSynced(ids: readonly string[], flag: 1 | 2 | 3, reason?: string): Promise<number> {
    return this.write(['events'], `sync state of ${ids.length} events`, 0, async (tx) => {
      const store = tx.objectStore('events');
      let changed = 0;
      for (const id of ids) {
        const record = await store.get(id);
        // Only the outbox moves: an event kept local (privacy) or set aside meanwhile stays so.
        if (record?.synced !== 0) continue;
        const { localReason: _localReason, ...rest } = record;
        await store.put(flag === 1 ? { ...rest, synced: 1 } : { ...rest, synced: flag, localReason: reason });
        changed++;
      }
      return changed;
    });
  }

  /** The stored state of `userId`, if any. */
  async userState(userId: string): Promise<UserState | undefined> {
    return this.database().get('users', userId);
  }

  /** Replaces the stored state of `s.userId`. */
  async putUserState(s: UserState): Promise<void> {
    checkUserState(s);
    const bytes = JSON.stringify(s).length;
    await this.write(['users'], `user state of ${s.userId}`, bytes, async (tx) => {
      await tx.objectStore('users').put(s);
    });
  }

  /**
   * Read-modify-write of one user's state in a single transaction, so two writers (record() counting an
   * action, the sync client storing a pulled embedding) never lose each other's update. `change` gets the
   * stored state (undefined when none) and returns the new one; it must not await.
   */
  async updateUserState(
    userId: string,
    change: (current: UserState | undefined) => UserState,
  ): Promise<UserState> {
    const generation = this.snapshots.begin();
    const cached = this.snapshots.peek(userId);
    const stored = await this.write(['users'], `user state of ${userId}`, 0, async (tx) => {
      const store = tx.objectStore('users');
      const next = change(await store.get(userId));
      if (next.userId !== userId)
        throw new InputError(`user state: change() returned user ${next.userId}, not ${userId}`);
      checkUserState(next);
      await store.put(next);
      return next;
    });
    this.snapshots.updated(generation, cached, stored);
    return stored;
  }

  // ---------------------------------------------------------------------------------------------- lifecycle

  /**
   * Deletes the bundle cache only — every version's manifest and file, and which one is current — in one
   * transaction. Events (the outbox included), user state and other `meta` stay. The next start downloads
   * the bundle again (and cannot start offline until it has).
   */
  async clearBundles(): Promise<ClearedBundles> {
    return this.write(['files', 'manifests', 'meta'], 'bundle cache clear', 0, async (tx) => {
      const versions = await tx.objectStore('manifests').getAllKeys();
      const files = await tx.objectStore('files').count();
      await tx.objectStore('files').clear();
      await tx.objectStore('manifests').clear();
      const meta = tx.objectStore('meta');
      for (const key of RESERVED_META) await meta.delete(key);
      return { versions, files };
    });
  }

  /**
   * Deletes one user's local data in one transaction: every event of theirs (pending ones too: they will
   * never be uploaded), their state (counts, hidden items, long-term embedding) and the `meta` keys given.
   * Privacy mode, a setting, is kept when on. Other users' data and the bundle cache are untouched.
   */
  async deleteUserData(userId: string, metaKeys: readonly string[]): Promise<DeletedUserData> {
    return this.write(['events', 'users', 'meta'], `local data of ${userId}`, 0, async (tx) => {
      const result: DeletedUserData = {
        userId,
        events: 0,
        unsynced: 0,
        setAside: 0,
        hiddenItems: 0,
        userState: false,
        meta: [],
        privacyKept: false,
      };
      const index = tx.objectStore('events').index('by-user-ts');
      for (let cursor = await index.openCursor(userRange(userId)); cursor; cursor = await cursor.continue()) {
        result.events++;
        if (cursor.value.synced === 0) result.unsynced++;
        if (cursor.value.synced === 3) result.setAside++;
        await cursor.delete();
      }
      const users = tx.objectStore('users');
      const user = await users.get(userId);
      if (user) {
        result.userState = true;
        result.hiddenItems = user.hidden.length;
        await users.delete(userId);
        if (user.privacy) {
          await users.put({
            userId,
            counts: { click: 0, closeup: 0, save: 0, hide: 0 },
            hidden: [],
            updatedAt: 0,
            privacy: true,
          });
          result.privacyKept = true;
        }
      }
      const meta = tx.objectStore('meta');
      for (const key of metaKeys) {
        if (RESERVED_META.has(key)) throw new InputError(`meta key ${key} is managed by EngineStorage`);
        if ((await meta.getKey(key)) === undefined) continue;
        await meta.delete(key);
        result.meta.push(key);
      }
      return result;
    });
  }

  /** Empties every store (bundles, events, users, meta) in one transaction; the database stays open. */
  async clear(): Promise<void> {
    await this.write([...STORE_NAMES], 'clear', 0, async (tx) => {
      await Promise.all(STORE_NAMES.map((name) => tx.objectStore(name).clear()));
    });
  }

  /** Closes the connection (pending transactions still finish); later calls throw StorageClosedError. */
  close(): void {
    if (this.closedReason) return;
    this.closedReason = 'closed by close()';
    this.snapshots.close();
    this.db.close();
  }
}

export type { ClearedBundles, DeletedUserData, SetAsideEvent } from '../../core/contract/types.ts';
