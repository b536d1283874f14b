/**
 * The replay pack (what the lab's replay tab reads) against the replay over the whole data set: on the
 * small real bundle, the pack of a seeded sample replayed through the same runners gives exactly the rows
 * `edgerec replay --max-users N --seed S` gives.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  blendVariant,
  multiVariant,
  type ReplayPack,
  replayInputFromPack,
  runReplay,
  serverVariant,
} from '../../src/core/replay/index.ts';
import { writeReplayPack } from '../../src/train/replay/pack.ts';
import { type PreparedReplay, prepareReplayNode, replayRunnersNode } from '../../src/train/replay/run.ts';
import { ensureTinyBundle, TINY_RUN_DIR } from '../server/support/bundle.ts';

let bundleDir: string;
let prepared: PreparedReplay;

beforeAll(async () => {
  // A copy: the pack is written beside the bundle, and the shared bundle's own pack (another seed and
  // sample) is what the browser lab test replays.
  bundleDir = mkdtempSync(join(tmpdir(), 'edgerec-replay-pack-'));
  cpSync(await ensureTinyBundle(), bundleDir, { recursive: true });
  prepared = await prepareReplayNode({ models: bundleDir, checkpoint: TINY_RUN_DIR, split: 'valid' });
}, 300_000);
afterAll(() => rmSync(bundleDir, { recursive: true, force: true }));

describe('replay pack', () => {
  it('replays its sample to the same numbers as the whole data set with --max-users and --seed', async () => {
    const seed = 3;
    const maxUsers = 12;
    const { pack, path } = writeReplayPack(bundleDir, prepared, { split: 'valid', seed, maxUsers });
    const read = JSON.parse(readFileSync(path, 'utf8')) as ReplayPack;
    expect(read.users).toHaveLength(Math.min(maxUsers, read.users.length));
    expect(read.users.length).toBeGreaterThan(0);
    expect(new Set(read.log.user)).toEqual(new Set(pack.users));
    const variants = [serverVariant, blendVariant, multiVariant()];
    const runners = await replayRunnersNode(prepared);
    try {
      const whole = await runReplay(prepared.input, runners, variants, { seed, maxUsers });
      const { table, catalog } = prepared.input.model;
      const fromPack = await runReplay(replayInputFromPack(read, table, catalog), runners, variants, {
        seed,
      });
      expect(fromPack.requests).toBe(whole.requests);
      expect(fromPack.users).toBe(whole.users);
      expect(fromPack.standIns).toBe(whole.standIns);
      expect(fromPack.rows).toEqual(whole.rows);
      expect(whole.requests).toBeGreaterThan(0);
    } finally {
      await runners.release();
    }
  }, 120_000);
});
