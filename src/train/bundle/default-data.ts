import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeCatalog } from '../data/catalog-file.ts';
import { CATALOG_FILE, writeEvents } from '../data/events-file.ts';
import { generateSynthetic } from '../data/synthetic/index.ts';
import type { TrainModel } from '../pipeline.ts';

/**
 * The embedded default data of the demo bundle: the synthetic generator at a size whose whole pipeline
 * (data, graph, GNN, PinnerFormer, edge models, export, metrics) fits in under three minutes on two cores.
 */
export const DEFAULT_BUNDLE_DATA = { users: 2000, items: 6000, events: 200_000, seed: 42 };
export const DEFAULT_DATA_DIR = join('data', 'default');
export const DEFAULT_RUN_DIR = join('data', 'default-run');
/**
 * The default bundle's training length, in epochs (with validation early stopping inside them), never a
 * clock: the bundle is the same on any machine and under any load, and its sizes keep `npm start`'s first
 * build under three minutes on two cores. The GNN runs 2 × 30 steps instead of 4 × 30, PinnerFormer five
 * epochs, the encoder at most eight, each ranker (late and early fusion alike, so validation compares like
 * with like) at most six: with the ranker snapshot and the early-fusion pair, eight ranker epochs took the
 * build to 3 min 23 s (one other job running); six take it to 2 min 51 s on an idle machine.
 */
export const DEFAULT_GNN = { epochs: 2, maxStepsPerEpoch: 30 };
export const DEFAULT_PINNERFORMER = { maxEpochs: 5 };
/**
 * The default bundle's global models: LightGCN alone, because it wins validation on this data. With
 * PinnerFormer (five epochs) and LightGCN both trained, the retrieval choice was LightGCN, validation
 * Recall@20 0.2126 against 0.1952 (`npx tsx test/bench/default-space.ts`, seed 1); training both would
 * take the first `npm start` past three minutes, so the default trains the winner only. LightGCN's cap
 * of 30 epochs is where its validation curve peaked (Recall@20 every 5 epochs: 0.1846 0.1985 0.2087
 * 0.2083 0.2116 **0.2126** 0.2092 0.2068 0.2056, early stopping at 45).
 */
export const DEFAULT_BUNDLE_MODELS: TrainModel[] = ['lightgcn'];
export const DEFAULT_LIGHTGCN = { maxEpochs: 30 };
export const DEFAULT_EDGE_EPOCHS = {
  encoder: { maxEpochs: 8 },
  teacher: { maxEpochs: 6 },
  student: { maxEpochs: 6 },
};

/** Writes the default synthetic data set when it is not there yet; returns its events file. */
export async function ensureDefaultData(
  dir: string,
  onProgress: (done: number, total: number) => void = () => {},
): Promise<string> {
  const events = join(dir, 'events.jsonl');
  if (existsSync(events) && existsSync(join(dir, CATALOG_FILE))) return events;
  const dataset = generateSynthetic(DEFAULT_BUNDLE_DATA, onProgress);
  mkdirSync(dir, { recursive: true });
  const tmp = `${events}.tmp`;
  await writeEvents(tmp, dataset, `syn${DEFAULT_BUNDLE_DATA.seed}`);
  await writeCatalog(join(dir, CATALOG_FILE), dataset.catalog!, dataset.items);
  const { renameSync } = await import('node:fs');
  // The events file appears last and whole, so a half-written data set is never mistaken for one.
  renameSync(tmp, events);
  return events;
}
