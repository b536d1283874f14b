/**
 * Global setup of the browser project: a small real bundle whose retrieval space is LightGCN's, in
 * `test/generated/lightgcn/bundle/` (synthetic data → LightGCN, the only candidate → edge models distilled
 * to its fold-in users → every variant, briefly trained, no ranker snapshot), and `expected.json` beside it:
 * the SHA-256 of the run's `lightgcn/items.f32`, which the bundle's f32 table must be.
 * `test/browser/lightgcn-space.test.ts` serves from it. Delete `test/generated/` to rebuild.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBundle } from '../../../src/train/bundle/build.ts';
import { writeCatalog } from '../../../src/train/data/catalog-file.ts';
import { CATALOG_FILE, writeEvents } from '../../../src/train/data/events-file.ts';
import { loadDataset } from '../../../src/train/data/load.ts';
import { generateSynthetic } from '../../../src/train/data/synthetic/index.ts';
import { trainGlobalModels } from '../../../src/train/pipeline.ts';
import { RUN_SPACE_FILES } from '../../../src/train/space/index.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const DIR = join(ROOT, 'test', 'generated', 'lightgcn');
const BUNDLE_DIR = join(DIR, 'bundle');
const RUN_DIR = join(DIR, 'run');
const EVENTS = join(DIR, 'data', 'events.jsonl');
const EXPECTED = join(BUNDLE_DIR, 'expected.json');

export default async function setup(): Promise<void> {
  if (existsSync(EXPECTED)) return;
  const started = performance.now();
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(dirname(EVENTS), { recursive: true });
  const synthetic = generateSynthetic({ users: 300, items: 800, events: 30_000, seed: 11 });
  await writeEvents(`${EVENTS}.tmp`, synthetic, 'syn11');
  await writeCatalog(join(dirname(EVENTS), CATALOG_FILE), synthetic.catalog!, synthetic.items);
  renameSync(`${EVENTS}.tmp`, EVENTS);
  const dataset = await loadDataset(EVENTS, 'events');
  const run = await trainGlobalModels(dataset, EVENTS, RUN_DIR, {
    protocol: 'temporal',
    positives: 'engaged',
    seed: 1,
    gnnFeatures: false,
    models: ['lightgcn'],
    lightgcn: { maxEpochs: 10 },
  });
  const report = await buildBundle({
    checkpointDir: RUN_DIR,
    outDir: BUNDLE_DIR,
    dataset,
    // The browser tests expect the built-in learning (no manifest choice): its replay is not what they test.
    learningChoice: false,
    snapshot: false,
    edge: { encoder: { maxEpochs: 2 }, teacher: { maxEpochs: 1 }, student: { maxEpochs: 1 } },
  });
  const items = readFileSync(join(RUN_DIR, RUN_SPACE_FILES.lightgcn.items));
  writeFileSync(
    EXPECTED,
    JSON.stringify({
      version: report.version,
      retrieval: run.retrieval,
      itemsSha256: createHash('sha256').update(items).digest('hex'),
      encoderValidationCosine: (report.training.encoder as { validationCosine: number }).validationCosine,
    }),
  );
  process.stderr.write(
    `[lightgcn setup] built ${report.version} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
  );
}
