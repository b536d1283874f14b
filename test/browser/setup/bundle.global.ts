/**
 * Global setup of the browser project (runs in Node, before any browser test): makes sure a small but real
 * edgerec bundle is in `test/generated/bundle/` (synthetic data → global models → edge models → every
 * variant, briefly trained), then writes `test/generated/bundle/expected.json`: for every ranker and
 * encoder variant, two input sets (seeded random values shaped by the manifest, and real inputs from the
 * data) and what onnxruntime-node computes for them. `test/browser/ort-parity.test.ts` runs the same
 * inputs through onnxruntime-web in Chromium and compares.
 *
 * The bundle is built (~25 s on two cores) only when `latest.json` is missing or names a bundle today's
 * manifest validation rejects; after a change to training or export, delete `test/generated/` to rebuild.
 * The reference numbers (ONNX outputs, the Node lab's and the Node replay's, ~40 s) are written once per
 * bundle version and state of the code (test/shared/source-fingerprint.ts): this setup runs in the unit,
 * server and browser projects of one `npm test`, and only the first does the work.
 */

import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { Bundle, ManifestError, type TensorSpec } from '../../../src/core/bundle/index.ts';
import { ACTION_CODE } from '../../../src/core/events.ts';
import { Random } from '../../../src/core/random.ts';
import { CONTEXT_DIM, contextFeatures } from '../../../src/core/ranking/index.ts';
import { ACTION_TYPES, encoderInput, TIME_FEATURES, tableRows } from '../../../src/core/sequence/index.ts';
import { buildBundle } from '../../../src/train/bundle/build.ts';
import { longTermSnapshot } from '../../../src/train/bundle/snapshots.ts';
import { writeCatalog } from '../../../src/train/data/catalog-file.ts';
import { CATALOG_FILE, writeEvents } from '../../../src/train/data/events-file.ts';
import { loadDataset } from '../../../src/train/data/load.ts';
import { generateSynthetic } from '../../../src/train/data/synthetic/index.ts';
import type { Feeds } from '../../../src/train/onnx/feeds.ts';
import { NODE_SESSION_OPTIONS, runModel, runOnce } from '../../../src/train/onnx/run.ts';
import {
  actionSequences,
  loadPinnerFormer,
  PinnerFormerRecommender,
} from '../../../src/train/pinnerformer/index.ts';
import { trainGlobalModels } from '../../../src/train/pipeline.ts';
import { nodeDirectorySource } from '../../shared/bundle-fixture.ts';
import { writeLabExpected } from '../../shared/lab-fixture.ts';
import {
  BATCH,
  type ExpectedFile,
  type ExpectedModel,
  type InputKind,
  inputKind,
  REFERENCE_NAMES,
  type ReferenceName,
  type StoredFeeds,
  variantLabel,
} from '../../shared/ort-parity-inputs.ts';
import { fixturesCurrent, markFixturesCurrent } from '../../shared/source-fingerprint.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const GENERATED = join(ROOT, 'test', 'generated');
export const BUNDLE_DIR = join(GENERATED, 'bundle');
const DATA_DIR = join(GENERATED, 'data');
const RUN_DIR = join(GENERATED, 'run');
const EVENTS = join(DATA_DIR, 'events.jsonl');
export const EXPECTED_FILE = join(BUNDLE_DIR, 'expected.json');
/** Which bundle version and code wrote the reference numbers below (test/shared/source-fingerprint.ts). */
const FIXTURES_STAMP = join(BUNDLE_DIR, 'fixtures.stamp');

/** The onnxruntime-node session options of each reference (see REFERENCE_NAMES). */
const NODE_REFERENCES: Record<ReferenceName, ort.InferenceSession.SessionOptions> = {
  accurate: NODE_SESSION_OPTIONS,
  default: {},
};

const DATA = { users: 300, items: 800, events: 30_000, seed: 7 };
const SEED = 1;

const log = (message: string) => process.stderr.write(`[ort-parity setup] ${message}\n`);

export default async function setup(): Promise<void> {
  const started = performance.now();
  let bundle = existsSync(join(BUNDLE_DIR, 'latest.json')) ? await openLatest() : undefined;
  if (!bundle) {
    await buildTinyBundle();
    bundle = await openLatest(true);
  }
  const { version } = bundle!.manifest;
  if (fixturesCurrent(FIXTURES_STAMP, version)) {
    log(`reference numbers of ${version} already written by today's code`);
  } else {
    await writeExpected(bundle!);
    // The quantization lab: eval packs of this bundle and the Node lab's numbers (test/browser/lab.test.ts).
    await writeLabExpected(BUNDLE_DIR, RUN_DIR);
    markFixturesCurrent(FIXTURES_STAMP, version);
  }
  log(`ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

async function buildTinyBundle(): Promise<void> {
  const t0 = performance.now();
  for (const dir of [DATA_DIR, RUN_DIR, BUNDLE_DIR]) rmSync(dir, { recursive: true, force: true });
  mkdirSync(DATA_DIR, { recursive: true });
  const synthetic = generateSynthetic(DATA);
  await writeEvents(`${EVENTS}.tmp`, synthetic, `syn${DATA.seed}`);
  await writeCatalog(join(DATA_DIR, CATALOG_FILE), synthetic.catalog!, synthetic.items);
  renameSync(`${EVENTS}.tmp`, EVENTS);
  const dataset = await loadDataset(EVENTS, 'events');
  const t1 = performance.now();
  await trainGlobalModels(dataset, EVENTS, RUN_DIR, {
    protocol: 'temporal',
    positives: 'engaged',
    seed: SEED,
    gnnFeatures: true,
    gnn: { epochs: 1, stepsPerEpoch: 20 },
    pinnerformer: { maxEpochs: 2 },
    // PinnerFormer's space, as every browser test expects of this bundle (lightgcn-space.test.ts has its own).
    models: ['gnn', 'pinnerformer'],
  });
  const t2 = performance.now();
  const report = await buildBundle({
    checkpointDir: RUN_DIR,
    outDir: BUNDLE_DIR,
    dataset,
    // The browser tests expect the built-in learning (no manifest choice): its replay is not what they test.
    learningChoice: false,
    edge: { encoder: { maxEpochs: 2 }, teacher: { maxEpochs: 2 }, student: { maxEpochs: 2 } },
    // Epoch caps, never a clock: a wall-clock cap cut the snapshot at another epoch under load, and the
    // rankers then differed from one build to the next.
    snapshot: {
      gnn: { epochs: 1, stepsPerEpoch: 20 },
      pinnerformer: { maxEpochs: 2 },
    },
  });
  const t3 = performance.now();
  const s = (a: number, b: number) => ((b - a) / 1000).toFixed(1);
  log(
    `built bundle ${report.version} in ${s(t0, t3)} s (data ${s(t0, t1)} s, global models ${s(t1, t2)} s, ` +
      `edge models + export ${s(t2, t3)} s)`,
  );
}

/**
 * The bundle `latest.json` names. One that today's code no longer accepts (built before a manifest change)
 * is rebuilt rather than reported, unless it was just built.
 */
async function openLatest(fresh = false): Promise<Bundle | undefined> {
  const { version } = JSON.parse(readFileSync(join(BUNDLE_DIR, 'latest.json'), 'utf8')) as {
    version: string;
  };
  try {
    return await Bundle.open(nodeDirectorySource(join(BUNDLE_DIR, version)));
  } catch (error) {
    if (fresh || !(error instanceof ManifestError)) throw error;
    log(`rebuilding: the bundle in ${BUNDLE_DIR} is out of date (${error.message})`);
    return undefined;
  }
}

async function writeExpected(bundle: Bundle): Promise<void> {
  const { manifest } = bundle;
  const { version } = manifest;
  const real = await realInputs(bundle);
  const random = new Random(20_240_601);
  const specsOf = (kind: InputKind) => {
    const entry = [...manifest.rankers, ...manifest.encoders].find((e) => inputKind(e) === kind);
    if (!entry) throw new Error(`the bundle has no ${kind} model`);
    return entry.inputs;
  };
  const rankerSpecs = specsOf('ranker');
  const earlySpecs = specsOf('ranker-early');
  const encoderSpecs = specsOf('encoder');
  const randomRanker = randomFeeds(rankerSpecs, random);
  const inputs: ExpectedFile['inputs'] = {
    ranker: [
      { name: 'random', feeds: randomRanker },
      { name: 'real', feeds: real.ranker },
    ],
    // The same rows plus their sequences: random ones shaped as real ones, each real user's actions, and
    // (as the engine serves) the first real user's actions once, broadcast over every row.
    'ranker-early': [
      { name: 'random', feeds: { ...randomRanker, ...randomSequenceFeeds(earlySpecs, random) } },
      { name: 'real', feeds: { ...real.ranker, ...real.rankerSequence } },
      { name: 'one user', feeds: { ...real.ranker, ...firstUser(real.rankerSequence) } },
    ],
    encoder: [
      { name: 'random', feeds: randomEncoderFeeds(encoderSpecs, random) },
      { name: 'real', feeds: real.encoder },
    ],
  };
  const models: ExpectedFile['models'] = [];
  for (const entry of [...manifest.rankers, ...manifest.encoders]) {
    const kind = inputKind(entry);
    const sets = inputs[kind];
    if (JSON.stringify(entry.inputs) !== JSON.stringify(specsOf(kind)))
      throw new Error(`${variantLabel(entry)}: inputs differ from the other ${kind} models'`);
    const model = await bundle.file(entry);
    const outputs = {} as ExpectedModel['outputs'];
    for (const reference of REFERENCE_NAMES) {
      const session = await ort.InferenceSession.create(model, NODE_REFERENCES[reference]);
      try {
        outputs[reference] = [];
        for (const set of sets) {
          const run = await runOnce(session, toFeeds(set.feeds));
          outputs[reference].push(
            Object.fromEntries(
              entry.outputs.map((spec) => {
                const data = run[spec.name];
                if (!(data instanceof Float32Array)) throw new Error(`${spec.name}: not float32`);
                return [spec.name, stored(dimsOf(spec, BATCH), data)];
              }),
            ),
          );
        }
      } finally {
        await session.release();
      }
    }
    models.push({ label: variantLabel(entry), kind: entry.kind, file: entry.file, outputs });
  }
  const expected: ExpectedFile = { version, batch: BATCH, inputs, models };
  writeFileSync(`${EXPECTED_FILE}.tmp`, JSON.stringify(expected));
  renameSync(`${EXPECTED_FILE}.tmp`, EXPECTED_FILE);
}

/** A spec's dims with `batch` rows, one per user ('users'): the training layout. */
function dimsOf(spec: TensorSpec, batch: number): number[] {
  return spec.shape.map((d) => (d === 'batch' || d === 'users' ? batch : d));
}

/** The first row of each per-user feed, as a batch of one: what the engine feeds for its one user. */
function firstUser(feeds: StoredFeeds): StoredFeeds {
  return Object.fromEntries(
    Object.entries(feeds).map(([name, { dims, data }]) => {
      const row = size(dims.slice(1));
      return [name, { dims: [1, ...dims.slice(1)], data: data.slice(0, row) }];
    }),
  );
}

const size = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

function toFeeds(stored: StoredFeeds): Feeds {
  return Object.fromEntries(
    Object.entries(stored).map(([name, { dims, data }]) => [name, { dims, data: Float32Array.from(data) }]),
  );
}

function stored(dims: number[], data: Float32Array): StoredFeeds[string] {
  if (data.length !== size(dims)) throw new Error(`${data.length} values for [${dims}]`);
  return { dims, data: Array.from(data) };
}

/** Standard normal values (rounded to float32) for every input, shaped by its spec. */
function randomFeeds(specs: TensorSpec[], random: Random): StoredFeeds {
  return Object.fromEntries(
    specs.map((spec) => {
      if (spec.dtype !== 'float32') throw new Error(`${spec.name}: only float32 inputs are generated`);
      const dims = dimsOf(spec, BATCH);
      return [
        spec.name,
        stored(
          dims,
          Float32Array.from({ length: size(dims) }, () => random.normal()),
        ),
      ];
    }),
  );
}

/**
 * Random encoder inputs with the structure real ones have: row b holds a different number of actions
 * (1 … length, the last row full), left-padded; normal item rows and time features, one-hot actions and a
 * 0/1 mask on the real positions, zeros on the padding.
 */
function randomEncoderFeeds(specs: TensorSpec[], random: Random): StoredFeeds {
  const spec = (name: string) => {
    const found = specs.find((s) => s.name === name);
    if (!found) throw new Error(`encoder has no ${name} input`);
    return found;
  };
  const [, length, itemDim] = dimsOf(spec('items'), BATCH);
  if (dimsOf(spec('actions'), BATCH)[2] !== ACTION_TYPES || dimsOf(spec('time'), BATCH)[2] !== TIME_FEATURES)
    throw new Error('encoder inputs are not shaped as src/core/sequence expects');
  const items = new Float32Array(BATCH * length * itemDim);
  const actions = new Float32Array(BATCH * length * ACTION_TYPES);
  const time = new Float32Array(BATCH * length * TIME_FEATURES);
  const mask = new Float32Array(BATCH * length);
  for (let b = 0; b < BATCH; b++) {
    const n = b === BATCH - 1 ? length : 1 + random.int(length);
    for (let t = length - n; t < length; t++) {
      const cell = b * length + t;
      mask[cell] = 1;
      actions[cell * ACTION_TYPES + random.int(ACTION_TYPES)] = 1;
      for (let k = 0; k < itemDim; k++) items[cell * itemDim + k] = random.normal();
      for (let k = 0; k < TIME_FEATURES; k++) time[cell * TIME_FEATURES + k] = random.normal();
    }
  }
  return {
    items: stored([BATCH, length, itemDim], items),
    actions: stored([BATCH, length, ACTION_TYPES], actions),
    time: stored([BATCH, length, TIME_FEATURES], time),
    mask: stored([BATCH, length], mask),
  };
}

/** Random `seq_*` inputs of an early-fusion ranker, structured as the encoder's (see randomEncoderFeeds). */
function randomSequenceFeeds(specs: TensorSpec[], random: Random): StoredFeeds {
  const prefix = 'seq_';
  const sequenceSpecs = specs
    .filter((s) => s.name.startsWith(prefix))
    .map((s) => ({ ...s, name: s.name.slice(prefix.length) }));
  if (sequenceSpecs.length !== 4) throw new Error('an early-fusion ranker has four seq_ inputs');
  return Object.fromEntries(
    Object.entries(randomEncoderFeeds(sequenceSpecs, random)).map(([name, feed]) => [prefix + name, feed]),
  );
}

/**
 * Inputs from the data: BATCH real users (the ones with the most actions, spread over the ranking), their
 * newest actions over the bundle's f32 item table for the encoder; for the ranker, the PinnerFormer
 * long-term embedding of each user, the fp32 encoder's real-time embedding of the same window, the item
 * row of their newest action as the candidate, and its real context features.
 */
async function realInputs(
  bundle: Bundle,
): Promise<{ ranker: StoredFeeds; rankerSequence: StoredFeeds; encoder: StoredFeeds }> {
  const table = await bundle.itemTable('f32');
  const items = table.values as Float32Array;
  const dim = table.dim;
  const dataset = await loadDataset(EVENTS, 'events');
  const sequences = actionSequences(dataset.log, dataset.users.size, dataset.hasTimestamps);
  const byLength = sequences
    .map((s, user) => ({ user, n: s.items.length }))
    .filter((u) => u.n >= 2)
    .sort((a, b) => b.n - a.n || a.user - b.user);
  const users = Array.from(
    { length: BATCH },
    (_, k) => byLength[Math.floor((k * byLength.length) / BATCH)].user,
  );
  const chosen = users.map((u) => sequences[u]);

  const encoderEntry = bundle.model('encoder', 'student', 'fp32');
  const itemsSpec = encoderEntry.inputs.find((spec) => spec.name === 'items');
  if (!itemsSpec) throw new Error('the encoder has no items input');
  const [, length, itemDim] = dimsOf(itemsSpec, BATCH);
  // Each user's newest `length` actions, as the browser engine will feed them.
  const input = encoderInput(chosen, length, itemDim, tableRows(items, itemDim));
  const encoder: Feeds = {
    items: { data: input.items, dims: [BATCH, length, itemDim] },
    actions: { data: input.actions, dims: [BATCH, length, ACTION_TYPES] },
    time: { data: input.time, dims: [BATCH, length, TIME_FEATURES] },
    mask: { data: input.mask, dims: [BATCH, length] },
  };
  const [encoded] = await runModel(await bundle.file(encoderEntry), [encoder]);
  const userShort = encoded.user as Float32Array;

  const { model, hasTimestamps } = await loadPinnerFormer(join(RUN_DIR, 'pinnerformer', 'model'));
  const teacher = PinnerFormerRecommender.fromModel(model, hasTimestamps);
  const userLong = longTermSnapshot(teacher, chosen, Number.POSITIVE_INFINITY);
  if (userLong.length !== BATCH * dim) throw new Error(`long-term embeddings are not ${dim} wide`);

  const catalog = await bundle.catalog();
  const item = new Float32Array(BATCH * dim);
  const context = new Float32Array(BATCH * CONTEXT_DIM);
  chosen.forEach((s, b) => {
    const last = s.items.length - 1;
    const candidate = s.items[last];
    item.set(items.subarray(candidate * dim, (candidate + 1) * dim), b * dim);
    const counts = new Array<number>(ACTION_TYPES).fill(0);
    for (let t = 0; t < last; t++) counts[s.actions[t]]++;
    contextFeatures(
      {
        positives: catalog.positives[candidate],
        impressions: catalog.impressions[candidate],
        firstSeen: catalog.firstSeen[candidate],
      },
      {
        click: counts[ACTION_CODE.click],
        closeup: counts[ACTION_CODE.closeup],
        save: counts[ACTION_CODE.save],
        hide: counts[ACTION_CODE.hide],
      },
      s.ts[last],
      context,
      b * CONTEXT_DIM,
    );
  });
  const feedsOf = (f: Feeds): StoredFeeds =>
    Object.fromEntries(
      Object.entries(f).map(([name, { dims, data }]) => [name, stored(dims, data as Float32Array)]),
    );
  // The early-fusion ranker's sequence: each user's actions before the candidate (their newest action).
  const early = bundle.model('ranker', 'student', 'fp32', undefined, 'early');
  const seqSpec = early.inputs.find((spec) => spec.name === 'seq_items');
  if (!seqSpec) throw new Error('the early-fusion ranker has no seq_items input');
  const seqLength = Number(seqSpec.shape[1]);
  const before = encoderInput(
    chosen.map((s) => ({ ...s, end: s.items.length - 1 })),
    seqLength,
    dim,
    tableRows(items, dim),
  );
  return {
    encoder: feedsOf(encoder),
    rankerSequence: {
      seq_items: stored([BATCH, seqLength, dim], before.items),
      seq_actions: stored([BATCH, seqLength, ACTION_TYPES], before.actions),
      seq_time: stored([BATCH, seqLength, TIME_FEATURES], before.time),
      seq_mask: stored([BATCH, seqLength], before.mask),
    },
    ranker: {
      user_long: stored([BATCH, dim], userLong),
      user_short: stored([BATCH, dim], userShort),
      item: stored([BATCH, dim], item),
      context: stored([BATCH, CONTEXT_DIM], context),
    },
  };
}
