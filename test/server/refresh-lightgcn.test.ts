/**
 * The refresh job over a run whose retrieval space is LightGCN's (`test/generated/lightgcn/`, built by the
 * browser project's global setup when missing): the server's embeddings are LightGCN fold-ins of each
 * user's engaged items, equal to what training computes, and the job is labelled with that bundle.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Event } from '../../src/core/events.ts';
import { openRefreshJob } from '../../src/server/refresh/index.ts';
import { openStore, type Store } from '../../src/server/store/index.ts';
import { longTermSnapshot } from '../../src/train/bundle/snapshots.ts';
import { loadDataset } from '../../src/train/data/load.ts';
import { actionSequences } from '../../src/train/pinnerformer/index.ts';
import { loadUserSpace } from '../../src/train/space/index.ts';
import setupLightGcnBundle from '../browser/setup/lightgcn-bundle.global.ts';

const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'generated', 'lightgcn');
const RUN_DIR = join(DIR, 'run');
const BUNDLE_DIR = join(DIR, 'bundle');
const EVENTS_FILE = join(DIR, 'data', 'events.jsonl');
let store: Store;
let dataDir: string;

beforeAll(async () => {
  await setupLightGcnBundle();
  dataDir = mkdtempSync(join(tmpdir(), 'edgerec-refresh-lightgcn-'));
  store = await openStore({ dataDir });
}, 300_000);

afterAll(async () => {
  await store?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('refresh job in LightGCN space', () => {
  it("writes each user's fold-in embedding, equal to training's, labelled with the LightGCN bundle", async () => {
    const events = readFileSync(EVENTS_FILE, 'utf8')
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as Event);
    await store.insertEvents(events);
    const job = await openRefreshJob({ store, runDir: RUN_DIR, modelsDir: BUNDLE_DIR, batchUsers: 64 });
    const { version } = JSON.parse(readFileSync(join(BUNDLE_DIR, 'latest.json'), 'utf8'));
    expect(job.modelVersion).toBe(version);
    const result = await job.runOnce();
    expect(result.users).toBe(300);

    const dataset = await loadDataset(EVENTS_FILE, 'events');
    const space = await loadUserSpace(RUN_DIR);
    expect(space.model).toBe('lightgcn');
    const sequences = actionSequences(dataset.log, dataset.users.size, dataset.hasTimestamps);
    const expected = longTermSnapshot(space, sequences, Number.POSITIVE_INFINITY);
    let worst = 0;
    for (const [u, userId] of dataset.users.toArray().entries()) {
      const stored = await store.serverEmbedding(userId);
      expect(stored?.modelVersion).toBe(version);
      for (let d = 0; d < space.dim; d++)
        worst = Math.max(worst, Math.abs(stored!.vector[d] - expected[u * space.dim + d]));
    }
    // The same sums in the same order (distinct engaged items, oldest first): identical floats.
    expect(worst).toBe(0);
  });
});
