/**
 * The lab's cross-runtime fixture: eval packs of the small bundle the browser project builds
 * (test/generated/bundle/), and what the Node lab (`edgerec lab run`'s code) computes on them, written to
 * test/generated/bundle/lab-expected.json for test/browser/lab.test.ts to compare the worker's numbers with.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabResult } from '../../src/core/lab/index.ts';
import { buildEvalPack } from '../../src/train/lab/pack.ts';
import { runLabNode } from '../../src/train/lab/run.ts';

import { LAB_EXPECTED_FILE, LAB_FIXTURE_REQUEST } from './lab-fixture-request.ts';

export { LAB_EXPECTED_FILE, LAB_FIXTURE_REQUEST };

export async function writeLabExpected(bundleDir: string, runDir: string): Promise<LabResult> {
  await buildEvalPack({ checkpointDir: runDir, bundleDir, split: ['valid', 'test'] });
  const result = await runLabNode(bundleDir, LAB_FIXTURE_REQUEST.split, {
    items: [...LAB_FIXTURE_REQUEST.items],
    rankers: [...LAB_FIXTURE_REQUEST.rankers],
  });
  writeFileSync(join(bundleDir, LAB_EXPECTED_FILE), `${JSON.stringify(result, null, 2)}\n`);
  return result;
}
