/**
 * The lab's cross-runtime fixture: eval packs of the small bundle the browser project builds
 * (test/generated/bundle/), and what the Node lab (`edgerec lab run`'s code) computes on them, written to
 * test/generated/bundle/lab-expected.json for test/browser/lab.test.ts to compare the worker's numbers with.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BundleManifest } from '../../src/core/bundle/index.ts';
import type { LabResult } from '../../src/core/lab/index.ts';
import { namedVariant } from '../../src/core/replay/index.ts';
import { buildEvalPack } from '../../src/train/lab/pack.ts';
import { runLabNode } from '../../src/train/lab/run.ts';
import { resolveBundleDir } from '../../src/train/lab/source.ts';
import { writeReplayPack } from '../../src/train/replay/pack.ts';
import { prepareReplayNode, runReplayNode } from '../../src/train/replay/run.ts';
import { initTraining } from '../../src/train/tf/backend.ts';
import {
  LAB_EXPECTED_FILE,
  LAB_FIXTURE_RANKER_FILE,
  LAB_FIXTURE_REQUEST,
  REPLAY_EXPECTED_FILE,
  REPLAY_FIXTURE,
} from './lab-fixture-request.ts';

export {
  LAB_EXPECTED_FILE,
  LAB_FIXTURE_RANKER_FILE,
  LAB_FIXTURE_REQUEST,
  REPLAY_EXPECTED_FILE,
  REPLAY_FIXTURE,
};

export async function writeLabExpected(bundleDir: string, runDir: string): Promise<LabResult> {
  await buildEvalPack({ checkpointDir: runDir, bundleDir, split: ['valid', 'test'] });
  // Also the bundle's student fp32 graph as a ranker file (`--ranker-file`), for the worker's own-ranker test.
  const dir = resolveBundleDir(bundleDir);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as BundleManifest;
  const entry = manifest.rankers.find((e) => e.role === 'student' && e.dtype === 'fp32')!;
  const result = await runLabNode(bundleDir, LAB_FIXTURE_REQUEST.split, {
    items: [...LAB_FIXTURE_REQUEST.items],
    rankers: [...LAB_FIXTURE_REQUEST.rankers],
    rankerFiles: [
      { name: LAB_FIXTURE_RANKER_FILE, bytes: new Uint8Array(readFileSync(join(dir, entry.file))) },
    ],
  });
  writeFileSync(join(bundleDir, LAB_EXPECTED_FILE), `${JSON.stringify(result, null, 2)}\n`);
  await writeReplayExpected(bundleDir, runDir);
  return result;
}

/** The replay pack of REPLAY_FIXTURE's sample beside the bundle, and what `edgerec replay` gives on it. */
export async function writeReplayExpected(bundleDir: string, runDir: string): Promise<void> {
  const { split, seed, maxUsers, variants } = REPLAY_FIXTURE;
  const prepared = await prepareReplayNode({ models: bundleDir, checkpoint: runDir, split });
  writeReplayPack(bundleDir, prepared, { split, seed, maxUsers });
  const report = await runReplayNode({
    prepared,
    models: bundleDir,
    checkpoint: runDir,
    split,
    seed,
    maxUsers,
    variants: variants.map((name) => namedVariant(name, initTraining)),
  });
  writeFileSync(join(bundleDir, REPLAY_EXPECTED_FILE), `${JSON.stringify(report, null, 2)}\n`);
}
