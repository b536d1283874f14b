/**
 * The lab's Replay tab end to end: the default bundle's replay pack (a small seeded sample, written when
 * the bundle has none, as `edgerec replay --split valid --max-users 30 --seed 0 --write-pack` does) and what
 * the Node replay gives on it, which the page's table must equal.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabSplit } from '../../../src/core/lab/index.ts';
import {
  type NamedVariant,
  namedVariant,
  type ReplayMetric,
  type ReplayPack,
  replayPackFile,
} from '../../../src/core/replay/index.ts';
import { DEFAULT_RUN_DIR } from '../../../src/train/bundle/default-data.ts';
import { resolveBundleDir } from '../../../src/train/lab/source.ts';
import { writeReplayPack } from '../../../src/train/replay/pack.ts';
import { prepareReplayNode, runReplayNode } from '../../../src/train/replay/run.ts';
import { initTraining } from '../../../src/train/tf/backend.ts';

/** What the e2e test picks in the tab; a pack written here has this sample (small: the setup's time counts). */
export const E2E_REPLAY = {
  split: 'valid' as LabSplit,
  seed: 0,
  maxUsers: 30,
  /** Not the page's default set: the test unticks server and blend. */
  variants: ['multi', 'learned', 'learned+multi'] as NamedVariant[],
};

export interface E2eReplayExpected {
  bundle: string;
  split: LabSplit;
  seed: number;
  maxUsers: number;
  users: number;
  requests: number;
  rows: { variant: string; metrics: Record<ReplayMetric, number> }[];
  /** Whether the bundle has a pack for the test window (the error case needs it absent). */
  testPack: boolean;
}

/**
 * The Node replay's rows on the bundle's validation pack, writing the pack first when the bundle has none
 * (or one of another bundle). A pack already there (`npm start` users may have written a bigger one) is
 * kept and replayed with its own seed and sample size.
 */
export async function replayExpected(root: string): Promise<E2eReplayExpected> {
  const models = join(root, 'models');
  const checkpoint = join(root, DEFAULT_RUN_DIR);
  const { split, variants } = E2E_REPLAY;
  const dir = resolveBundleDir(models);
  const packPath = join(dir, replayPackFile(split));
  const prepared = await prepareReplayNode({ models, checkpoint, split });
  const version = prepared.bundle.manifest.version;
  const existing = existsSync(packPath)
    ? (JSON.parse(readFileSync(packPath, 'utf8')) as ReplayPack)
    : undefined;
  const pack =
    existing?.bundle === version
      ? existing
      : writeReplayPack(models, prepared, { split, seed: E2E_REPLAY.seed, maxUsers: E2E_REPLAY.maxUsers })
          .pack;
  const report = await runReplayNode({
    prepared,
    models,
    checkpoint,
    split,
    seed: pack.seed,
    maxUsers: pack.maxUsers,
    variants: variants.map((name) => namedVariant(name, initTraining)),
  });
  return {
    bundle: version,
    split,
    seed: pack.seed,
    maxUsers: pack.maxUsers,
    users: report.users,
    requests: report.requests,
    rows: report.rows.map((r) => ({ variant: r.variant, metrics: r.metrics })),
    testPack: existsSync(join(dir, replayPackFile('test'))),
  };
}
