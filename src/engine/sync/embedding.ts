import type { UserState } from '../storage/index.ts';
import { type SyncHttp, SyncHttpError } from './http.ts';
import type { DeviceEmbedding, EmbeddingDetail, SyncMeta, SyncStorage } from './types.ts';

interface ServerEmbedding {
  vector: number[];
  modelVersion: string;
  eventSeq: number;
  updatedAt: number;
}
interface DeviceEmbeddingRecord {
  vector: number[];
  modelVersion: string;
  version: number;
  updatedAt: number;
}
interface CombinedEmbeddingRecord {
  vector: number[];
  modelVersion: string;
  rule: string;
  from: 'server' | 'device' | 'both';
}
interface EmbeddingsAnswer {
  userId: string;
  server: ServerEmbedding | null;
  device: DeviceEmbeddingRecord | null;
  /** The two combined by the server's rule (absent from servers older than the rule). */
  combined?: CombinedEmbeddingRecord | null;
}

export interface EmbeddingContext {
  storage: SyncStorage;
  http: SyncHttp;
  userId: string;
  signal?: AbortSignal;
  /** The bundle version the engine runs now: a server embedding of another version is not used. */
  modelVersion: () => string | undefined;
  /** The device-learned embedding as of now (the compact encoder over local actions). */
  deviceEmbedding: () => Promise<DeviceEmbedding | undefined>;
  loadMeta: () => Promise<SyncMeta>;
  saveMeta: (meta: SyncMeta) => Promise<void>;
}

const path = (userId: string) => `/v1/users/${encodeURIComponent(userId)}/embedding`;

export function emptyUserState(userId: string): UserState {
  return { userId, counts: { click: 0, closeup: 0, save: 0, hide: 0 }, hidden: [], updatedAt: 0 };
}

/** Same vector, up to float noise (an execution provider may differ in the last bits between runs). */
export function sameVector(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!(Math.abs(a[i] - b[i]) <= 1e-6)) return false;
  return true;
}

/**
 * Pulls the server's long-term embedding (PinnerFormer, refreshed by the server's job) and stores it as
 * the user's `longTerm` — only when it was computed for the bundle version the engine runs, since a vector
 * lives in the space of one item table.
 */
export async function pullServerEmbedding(ctx: EmbeddingContext): Promise<EmbeddingDetail['server']> {
  const answer = await ctx.http.request<EmbeddingsAnswer>('GET', path(ctx.userId), undefined, ctx.signal);
  if (answer?.device) await adoptDeviceEmbedding(ctx, answer.device, answer.combined ?? undefined);
  const server = answer?.server;
  if (!server) return 'none';
  const version = ctx.modelVersion();
  if (version === undefined || server.modelVersion !== version) return 'other-version';
  const held = (await ctx.storage.userState(ctx.userId))?.longTerm;
  if (held && held.modelVersion === server.modelVersion && held.updatedAt === server.updatedAt)
    return 'unchanged';
  const longTerm = { vector: server.vector, modelVersion: server.modelVersion, updatedAt: server.updatedAt };
  await ctx.storage.updateUserState(ctx.userId, (current) => ({
    ...(current ?? emptyUserState(ctx.userId)),
    longTerm,
  }));
  const meta = await ctx.loadMeta();
  await ctx.saveMeta({ ...meta, serverUpdatedAt: server.updatedAt });
  return 'adopted';
}

/**
 * Another device of the user wrote its learned embedding (a version this device has not seen, for the
 * bundle it runs): what the server serves for it — its combination with the server's long-term embedding
 * by the server's rule (`combined`), else the device's own — becomes where this device's learning starts
 * (`devicePrior`), and — unless this device has learnt its own from events it holds — the embedding
 * recommend() uses (`learned`, source `remote`). Its version becomes the base of this device's next write,
 * so that write is not a blind one.
 */
async function adoptDeviceEmbedding(
  ctx: EmbeddingContext,
  device: DeviceEmbeddingRecord,
  combined: CombinedEmbeddingRecord | undefined,
): Promise<void> {
  const version = ctx.modelVersion();
  const meta = await ctx.loadMeta();
  if (version === undefined || device.modelVersion !== version || device.version <= meta.deviceVersion)
    return;
  const vector =
    combined && combined.modelVersion === version && combined.from !== 'server'
      ? combined.vector
      : device.vector;
  await ctx.storage.updateUserState(ctx.userId, (current) => {
    const state = current ?? emptyUserState(ctx.userId);
    const own = state.learned?.source === 'device' && state.learned.modelVersion === version;
    return {
      ...state,
      devicePrior: { vector, modelVersion: device.modelVersion, version: device.version },
      ...(own
        ? {}
        : {
            learned: {
              vector,
              modelVersion: device.modelVersion,
              source: 'remote' as const,
              steps: 0,
              updatedAt: device.updatedAt,
            },
          }),
    };
  });
  await ctx.saveMeta({ ...(await ctx.loadMeta()), deviceVersion: device.version });
}

/**
 * Writes the device-learned embedding when it changed since this device last wrote it, with optimistic
 * concurrency: `baseVersion` is the version this device last knew.
 *
 * On a 409 (another device wrote since), the answer's `current` version becomes the base and the write is
 * retried once: the newest local activity wins — this device's embedding reflects what the user did last
 * here, and two embeddings of two event windows have no meaningful merge without the events (which, in
 * privacy mode, the server does not have) — but only once this device has seen the current version, so no
 * write is ever blind. A second 409 in a row (a third writer in between) leaves it for the next pass.
 */
export async function pushDeviceEmbedding(
  ctx: EmbeddingContext,
): Promise<Pick<EmbeddingDetail, 'device' | 'deviceVersion'>> {
  const embedding = await ctx.deviceEmbedding();
  let meta = await ctx.loadMeta();
  if (!embedding) return { device: 'none', deviceVersion: meta.deviceVersion || undefined };
  if (
    meta.pushed &&
    meta.pushed.modelVersion === embedding.modelVersion &&
    sameVector(meta.pushed.vector, embedding.vector)
  )
    return { device: 'unchanged', deviceVersion: meta.deviceVersion };
  for (let attempt = 0; ; attempt++) {
    try {
      const answer = await ctx.http.request<{ device: DeviceEmbeddingRecord }>(
        'PUT',
        path(ctx.userId),
        { vector: embedding.vector, modelVersion: embedding.modelVersion, baseVersion: meta.deviceVersion },
        ctx.signal,
      );
      meta = { ...meta, deviceVersion: answer.device.version, pushed: embedding };
      await ctx.saveMeta(meta);
      return {
        device: attempt === 0 ? 'pushed' : 'pushed-after-conflict',
        deviceVersion: meta.deviceVersion,
      };
    } catch (error) {
      if (!(error instanceof SyncHttpError) || error.status !== 409) throw error;
      const current = (error.body as { current?: DeviceEmbeddingRecord | null } | undefined)?.current;
      meta = { ...meta, deviceVersion: current?.version ?? 0 };
      await ctx.saveMeta(meta);
      if (attempt >= 1) return { device: 'conflict', deviceVersion: meta.deviceVersion };
    }
  }
}
