/**
 * Typed errors across the worker: what the engine throws in its Web Worker reaches the page as the same
 * class (for the classes both sides import), with its stable `code` and its detail fields. Real failures
 * throughout (a real 404, a real tampered file, a real 401 from the sync server); the engine's own classes
 * that a test cannot provoke cheaply (the quota) cross a real comlink MessageChannel with the handler.
 */
import { expose, wrap } from 'comlink';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { commands } from 'vitest/browser';
import { ERROR_CODES } from '../../src/core/errors.ts';
import type { BundleLocationError } from '../../src/engine/bundle-location.ts';
import { QuotaExceededStorageError, StorageClosedError } from '../../src/engine/storage/errors.ts';
import { installErrorTransfer } from '../../src/sdk/errors-transfer.ts';
import {
  createRecommender,
  EdgerecError,
  EventValidationError,
  IntegrityError,
  InvalidOptionsError,
  InvalidRequestError,
  isEdgerecError,
  type Recommender,
  refreshSession,
  SyncHttpError,
} from '../../src/sdk/index.ts';

const { url: SERVER } = inject('syncServer');
const BUNDLES = new URL('/test/generated/bundle/', location.origin).href;
const run = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
let databases = 0;
const options = () => ({ userId: `user-${run}`, databaseName: `edgerec-errors-${run}-${++databases}` });
const opened: Recommender[] = [];
const written: string[] = [];

afterAll(async () => {
  for (const r of opened) await r.dispose().catch(() => {});
  for (const path of written) await commands.removeFile(path).catch(() => {});
});

function base64(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000)
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );

describe('typed errors in the page', () => {
  it('a bad request rejects with InvalidRequestError / EventValidationError, code INVALID_REQUEST', async () => {
    const rec = await createRecommender({ bundleUrl: BUNDLES, ...options() });
    opened.push(rec);
    const k = await failure(rec.recommend({ k: 0 }));
    expect(k).toBeInstanceOf(InvalidRequestError);
    expect(k).toBeInstanceOf(EdgerecError);
    expect((k as EdgerecError).code).toBe('INVALID_REQUEST');
    expect((k as Error).message).toMatch(/k must be an integer from 1 to 256/);
    // The worker's stack, not the page's: it names the engine's check.
    expect((k as Error).stack).toMatch(/checkRequest|engine/);

    const event = await failure(rec.record({ itemId: 'p1', action: 'like' as never }));
    expect(event).toBeInstanceOf(EventValidationError);
    expect((event as EventValidationError).code).toBe('INVALID_REQUEST');
    expect((event as EventValidationError).problems).toEqual([expect.objectContaining({ field: 'action' })]);
    await rec.dispose();
    const disposed = await failure(Promise.resolve().then(() => rec.status()));
    expect(isEdgerecError(disposed, 'DISPOSED')).toBe(true);
  });

  it('options: INVALID_OPTIONS; nothing at the URL: BUNDLE_NOT_FOUND with the status; offline and uncached: OFFLINE_NO_CACHE', async () => {
    const noUser = await failure(createRecommender({ bundleUrl: BUNDLES, userId: '', databaseName: 'x' }));
    expect(noUser).toBeInstanceOf(InvalidOptionsError);
    expect((noUser as EdgerecError).code).toBe('INVALID_OPTIONS');

    const missing = await failure(
      createRecommender({
        bundleUrl: new URL('/no-such-bundle/', SERVER).href,
        ...options(),
      }),
    );
    expect(missing).toBeInstanceOf(EdgerecError);
    expect((missing as EdgerecError).code).toBe('BUNDLE_NOT_FOUND');
    expect((missing as EdgerecError).name).toBe('BundleLocationError');
    expect((missing as BundleLocationError).status).toBe(404);

    const offline = await failure(
      createRecommender({ bundleUrl: 'http://127.0.0.1:9/models/', ...options() }),
    );
    expect(isEdgerecError(offline, 'OFFLINE_NO_CACHE')).toBe(true);
    expect((offline as Error).message).toMatch(/none cached yet/);
  });

  it('a tampered bundle file rejects with IntegrityError, code BUNDLE_INTEGRITY, naming the file', async () => {
    const { version } = await (await fetch(`${BUNDLES}latest.json`)).json();
    const manifest = await (await fetch(`${BUNDLES}${version}/manifest.json`)).json();
    // A copy of the bundle's folder where one byte of the catalog differs from what the manifest promises.
    // A bundles folder (the dev server answers any unknown path with its index page, so latest.json must exist).
    const root = `test/generated/tampered-${run}`;
    const folder = `${root}/${version}`;
    written.push(`${root}/latest.json`);
    await commands.writeFile(`${root}/latest.json`, JSON.stringify({ version }));
    const copy = async (file: string, change?: (bytes: Uint8Array) => void) => {
      const bytes = new Uint8Array(await (await fetch(`${BUNDLES}${version}/${file}`)).arrayBuffer());
      change?.(bytes);
      written.push(`${folder}/${file}`);
      await commands.writeFile(`${folder}/${file}`, base64(bytes), 'base64');
    };
    const files = new Set<string>(['manifest.json']);
    JSON.stringify(manifest, (key, value) => {
      if (key === 'file' && typeof value === 'string') files.add(value);
      return value;
    });
    const flip = (bytes: Uint8Array) => {
      bytes[10] ^= 1;
    };
    for (const file of files) await copy(file, file === manifest.catalog.file ? flip : undefined);

    const error = await failure(
      createRecommender({
        bundleUrl: new URL(`/test/generated/tampered-${run}/`, location.origin).href,
        ...options(),
      }),
    );
    expect(error).toBeInstanceOf(IntegrityError);
    expect((error as IntegrityError).code).toBe('BUNDLE_INTEGRITY');
    expect((error as IntegrityError).file).toBe(manifest.catalog.file);
    expect((error as IntegrityError).check).toBe('sha256');
  });

  it('a refused token: SyncHttpError, code UNAUTHORIZED, status 401', async () => {
    const error = await failure(refreshSession(SERVER, 'not-a-token'));
    expect(error).toBeInstanceOf(SyncHttpError);
    expect((error as SyncHttpError).code).toBe('UNAUTHORIZED');
    expect((error as SyncHttpError).status).toBe(401);
  });

  it('the engine’s own classes cross a real comlink channel with code, name, details and cause (handler only)', async () => {
    installErrorTransfer();
    const { port1, port2 } = new MessageChannel();
    const quota = new QuotaExceededStorageError('file items-i8.bin', 1234, {
      cause: new DOMException('over quota', 'QuotaExceededError'),
    });
    expose(
      {
        quota: () => Promise.reject(quota),
        closed: () => Promise.reject(new StorageClosedError('a newer version opened')),
        plain: () => Promise.reject(new TypeError('something unexpected')),
      },
      port1,
    );
    const remote = wrap<{ quota(): void; closed(): void; plain(): void }>(port2);
    const got = (await failure(remote.quota() as Promise<void>)) as QuotaExceededStorageError;
    expect(got).toBeInstanceOf(EdgerecError);
    expect(got.code).toBe('QUOTA_EXCEEDED');
    expect(got.name).toBe('QuotaExceededStorageError');
    expect([got.what, got.bytes]).toEqual(['file items-i8.bin', 1234]);
    expect((got.cause as EdgerecError).code).toBe('QUOTA_EXCEEDED');
    expect((got.cause as Error).name).toBe('QuotaExceededError');
    const closed = (await failure(remote.closed() as Promise<void>)) as EdgerecError;
    expect(closed.code).toBe('STORAGE_UNAVAILABLE');
    const plain = (await failure(remote.plain() as Promise<void>)) as EdgerecError;
    expect([plain.code, plain.name, plain.message]).toEqual([
      'INTERNAL',
      'TypeError',
      'something unexpected',
    ]);
    expect(ERROR_CODES).toContain(plain.code);
    port1.close();
    port2.close();
  });
});
