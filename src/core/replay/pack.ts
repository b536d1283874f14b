/**
 * The replay pack: what a browser needs to run the replay evaluation of a bundle without the training data
 * or the run — a seeded sample of one window's users with every event of theirs, the server's long-term
 * embeddings of them as of the window's start, and the item statistics as of then. `edgerec lab pack`
 * writes it beside the bundle (`lab/replay-<split>.json`); `replayInputFromPack` turns it back into the
 * replay's input, so `runReplay` gives the Node command's numbers for the same sample and seed.
 */
import type { DecodedItemTable, RankerHead } from '../bundle/index.ts';
import { InputError } from '../errors.ts';
import type { FeedModel } from '../feed/index.ts';
import type { InteractionLog } from '../interactions.ts';
import { Random } from '../random.ts';
import type { ReplayInput } from './replay.ts';
import { replaySessions } from './sessions.ts';

export const REPLAY_PACK_FORMAT = 1;
export const replayPackFile = (split: string) => `lab/replay-${split}.json`;

export interface ReplayPack {
  format: typeof REPLAY_PACK_FORMAT;
  bundle: string;
  split: 'valid' | 'test';
  /** Seed of the user sample (and the replay's stand-in impressions). */
  seed: number;
  /** The sample's size asked for (`--max-users`); the window may hold fewer users. */
  maxUsers: number;
  window: { from: number; to: number };
  numUsers: number;
  numItems: number;
  dim: number;
  /** Whether the data set lacks ignored impressions (stand-ins are drawn), judged on the whole data set. */
  standIns: boolean;
  /** The sampled users (data set indices), ascending. */
  users: number[];
  /** Every event of the sampled users, in the data set's order. */
  log: { user: number[]; item: number[]; action: number[]; ts: number[] };
  /** The server's long-term embeddings of `users` as of the window's start, [users × dim]; zeros = none. */
  longTerm: number[];
  /** Per item, as of the window's start. */
  stats: { positives: number[]; impressions: number[]; firstSeen: (number | null)[] };
  weights: Record<RankerHead, number>;
}

/**
 * The users `runReplay` replays with `maxUsers` and `seed`: those with a session in the window, a seeded
 * shuffle's first `maxUsers`, ascending. The pack holds exactly these, so the two runs score the same users.
 */
export function replaySample(
  log: InteractionLog,
  numUsers: number,
  window: { from: number; to: number },
  seed: number,
  maxUsers: number | undefined,
): number[] {
  const sessions = replaySessions(log, numUsers, window);
  let users = sessions.flatMap((s, u) => (s.length > 0 ? [u] : []));
  if (maxUsers !== undefined && users.length > maxUsers) {
    new Random(seed).shuffle(users);
    users = users.slice(0, maxUsers).sort((a, b) => a - b);
  }
  return users;
}

/** The pack of `users` from the replay's whole input. */
export function buildReplayPack(
  input: ReplayInput,
  users: readonly number[],
  meta: Pick<ReplayPack, 'bundle' | 'split' | 'seed' | 'maxUsers' | 'standIns'>,
): ReplayPack {
  const { log, model } = input;
  const dim = model.table.dim;
  const chosen = new Set(users);
  const rows: number[] = [];
  for (let r = 0; r < log.length; r++) if (chosen.has(log.user[r])) rows.push(r);
  const longTerm: number[] = [];
  for (const u of users) longTerm.push(...input.longTerm.subarray(u * dim, (u + 1) * dim));
  return {
    format: REPLAY_PACK_FORMAT,
    ...meta,
    window: input.window,
    numUsers: input.numUsers,
    numItems: model.table.count,
    dim,
    users: [...users],
    log: {
      user: rows.map((r) => log.user[r]),
      item: rows.map((r) => log.item[r]),
      action: rows.map((r) => log.action[r]),
      ts: rows.map((r) => log.ts[r]),
    },
    longTerm,
    stats: {
      positives: Array.from(model.stats.positives),
      impressions: Array.from(model.stats.impressions),
      firstSeen: Array.from(model.stats.firstSeen),
    },
    weights: input.weights,
  };
}

/** The replay's input from a pack, the bundle's item table and catalog (what a browser has). */
export function replayInputFromPack(
  pack: ReplayPack,
  table: DecodedItemTable,
  catalog: FeedModel['catalog'],
): ReplayInput {
  if (pack.format !== REPLAY_PACK_FORMAT)
    throw new InputError(`replay pack: format ${pack.format}, this code reads ${REPLAY_PACK_FORMAT}`);
  if (table.count !== pack.numItems || table.dim !== pack.dim)
    throw new InputError(
      `replay pack of ${pack.numItems} × ${pack.dim} items, the bundle's table is ${table.count} × ${table.dim}`,
    );
  const longTerm = new Float32Array(pack.numUsers * pack.dim);
  pack.users.forEach((u, n) => {
    longTerm.set(pack.longTerm.slice(n * pack.dim, (n + 1) * pack.dim), u * pack.dim);
  });
  const log: InteractionLog = {
    length: pack.log.user.length,
    user: Int32Array.from(pack.log.user),
    item: Int32Array.from(pack.log.item),
    action: Uint8Array.from(pack.log.action),
    ts: Float64Array.from(pack.log.ts),
  };
  const { positives } = pack.stats;
  const model: FeedModel = {
    table,
    catalog,
    stats: pack.stats,
    popular: Int32Array.from(positives.keys()).sort((a, b) => positives[b] - positives[a] || a - b),
  };
  return {
    log,
    numUsers: pack.numUsers,
    window: pack.window,
    longTerm,
    model,
    weights: pack.weights,
    standIns: pack.standIns,
  };
}
