/**
 * A small but real bundle for tests: an item table in every dtype made with the codecs, a catalog, and a
 * placeholder file for each model, all content-addressed with their true lengths and SHA-256 in the
 * manifest. Also a Node `BundleSource` over a directory.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import {
  type BundleCatalog,
  type BundleManifest,
  type BundleSource,
  BundleSourceError,
  type FileRef,
  type ItemDtype,
  type ItemTableEntry,
  MANIFEST_FILE,
  type ModelEntry,
  sha256Hex,
  type TensorSpec,
} from '../../src/core/bundle/index.ts';
import { encodeF16, quantizeTableI8 } from '../../src/core/quantize/index.ts';

export const FIXTURE_VERSION = 'fixture-1';
export const FIXTURE_DIM = 3;

/** Five rows of three; row 3 is all zeros (an i8 scale of 0), row 0 the hand-computed one of the codecs. */
export const FIXTURE_TABLE = new Float32Array([
  0.5,
  -1,
  0.25,
  0.1,
  0.2,
  0.3,
  -2.5,
  1.25,
  0.75,
  0,
  0,
  0,
  1 / 3,
  -0.7,
  6.1e-5,
]);
export const FIXTURE_COUNT = FIXTURE_TABLE.length / FIXTURE_DIM;

export const FIXTURE_CATALOG: BundleCatalog = {
  ids: ['p1', 'p2', 'p3', 'p4', 'p5'],
  titles: ['Sourdough', 'Tiny house', 'Kayak trip', 'Ceramics ✓', 'Wool socks'],
  topics: [['food'], ['home', 'diy'], ['travel'], ['art'], []],
  positives: [12, 3, 0, 7, 1],
  impressions: [80, 40, 10, 35, 9],
  firstSeen: [1_700_000_000_000, 1_700_000_100_000, null, 1_700_000_200_000, 1_700_000_300_000],
};

export interface FixtureOptions {
  /** Which item tables to include (default: all three). */
  itemDtypes?: readonly ItemDtype[];
}

export interface FixtureBundle {
  manifest: BundleManifest;
  /** Every file of the bundle by path, `manifest.json` included. */
  files: Map<string, Uint8Array>;
}

/** Builds the bundle in memory. */
export async function buildFixtureBundle(options: FixtureOptions = {}): Promise<FixtureBundle> {
  const files = new Map<string, Uint8Array>();
  const add = async (stem: string, extension: string, bytes: Uint8Array): Promise<FileRef> => {
    const sha256 = await sha256Hex(bytes);
    const file = `${stem}.${sha256.slice(0, 12)}${extension}`;
    files.set(file, bytes);
    return { file, bytes: bytes.byteLength, sha256 };
  };

  const items: ItemTableEntry[] = [];
  const table = { count: FIXTURE_COUNT, dim: FIXTURE_DIM };
  for (const dtype of options.itemDtypes ?? (['f32', 'f16', 'i8'] as const)) {
    if (dtype === 'f32') {
      items.push({
        ...(await add('items/f32', '.bin', bytesOf(FIXTURE_TABLE))),
        dtype,
        ...table,
        metrics: {},
      });
    } else if (dtype === 'f16') {
      const ref = await add('items/f16', '.bin', bytesOf(encodeF16(FIXTURE_TABLE)));
      items.push({ ...ref, dtype, ...table, metrics: { 'HR@10': 0.5 } });
    } else {
      const { values, scales, columnScales } = quantizeTableI8(FIXTURE_TABLE, FIXTURE_DIM);
      const ref = await add('items/i8', '.bin', bytesOf(values));
      const scalesRef = await add('items/i8-scales', '.bin', bytesOf(scales));
      items.push({
        ...ref,
        dtype,
        ...table,
        scales: scalesRef,
        columnScales: Array.from(columnScales),
        metrics: { 'HR@10': 0.48 },
      });
    }
  }

  const catalogBytes = new TextEncoder().encode(JSON.stringify(FIXTURE_CATALOG));
  const catalog = { ...(await add('catalog', '.json', catalogBytes)), count: FIXTURE_COUNT };

  const placeholder = (name: string) => new TextEncoder().encode(`placeholder ${name}; not a real model`);
  const ranker = async (role: ModelEntry['role'], dtype: ModelEntry['dtype'], form?: 'dq' | 'qdq') => {
    const name = `ranker-${role}-${dtype}${form ? `-${form}` : ''}`;
    const entry: ModelEntry = {
      ...(await add(`models/${name}`, '.onnx', placeholder(name))),
      kind: 'ranker',
      role,
      dtype,
      ...(form ? { form } : {}),
      params: role === 'teacher' ? 4_000 : 900,
      inputs: rankerInputs(),
      outputs: [tensor('probs', 'float32', ['batch', 4], 'P(head) per candidate')],
      heads: ['click', 'closeup', 'save', 'hide'],
      providers: dtype === 'int8' && form === 'qdq' ? ['wasm'] : ['webgpu', 'wasm'],
      metrics: { 'AUC.save': 0.7 },
    };
    return entry;
  };
  const rankers = [
    await ranker('teacher', 'fp32'),
    await ranker('student', 'int8', 'dq'),
    await ranker('student', 'int8', 'qdq'),
  ];
  const encoders: ModelEntry[] = [
    {
      ...(await add('models/encoder-student-fp32', '.onnx', placeholder('encoder'))),
      kind: 'encoder',
      role: 'student',
      dtype: 'fp32',
      params: 1_200,
      inputs: [
        tensor('items', 'int64', ['batch', 8], 'recent item indices, oldest first'),
        tensor('actions', 'int64', ['batch', 8], 'their action codes'),
      ],
      outputs: [tensor('user', 'float32', ['batch', FIXTURE_DIM], 'the user embedding')],
      providers: ['webgpu', 'wasm'],
      metrics: {},
    },
  ];

  const manifest: BundleManifest = {
    format: 1,
    version: FIXTURE_VERSION,
    created: '2025-01-31T12:00:00Z',
    dataset: {
      name: 'fixture',
      format: 'events',
      users: 2,
      items: FIXTURE_COUNT,
      events: 20,
      protocol: 'sasrec',
      seed: 42,
    },
    dim: FIXTURE_DIM,
    items,
    catalog,
    rankers,
    encoders,
    utility: { weights: { click: 1, closeup: 0.5, save: 3, hide: -4 } },
    context: ['hour', 'age', 'popularity'],
  };
  files.set(MANIFEST_FILE, new TextEncoder().encode(JSON.stringify(manifest, null, 2)));
  return { manifest, files };
}

// Fresh objects for every entry: tests edit one entry of a structured clone, which keeps shared references.
function rankerInputs(): TensorSpec[] {
  return [
    tensor('user', 'float32', ['batch', FIXTURE_DIM], 'the user embedding'),
    tensor('item', 'float32', ['batch', FIXTURE_DIM], 'the candidate item embedding'),
    tensor('context', 'float32', ['batch', 3], 'context features'),
  ];
}

function tensor(
  name: string,
  dtype: TensorSpec['dtype'],
  shape: TensorSpec['shape'],
  description: string,
): TensorSpec {
  return { name, dtype, shape, description };
}

function bytesOf(array: Float32Array | Uint16Array | Int8Array): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

export interface WrittenFixture extends FixtureBundle {
  dir: string;
  source: BundleSource;
  /** The path of a bundle file on disk. */
  path(file: string): string;
  remove(): Promise<void>;
}

/** Writes the fixture bundle into a fresh temporary directory. */
export async function writeFixtureBundle(options: FixtureOptions = {}): Promise<WrittenFixture> {
  const fixture = await buildFixtureBundle(options);
  const dir = await mkdtemp(join(tmpdir(), 'edgerec-bundle-'));
  for (const [file, bytes] of fixture.files) {
    await mkdir(dirname(join(dir, file)), { recursive: true });
    await writeFile(join(dir, file), bytes);
  }
  return {
    ...fixture,
    dir,
    source: nodeDirectorySource(dir),
    path: (file) => join(dir, file),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** A bundle in a local directory. */
export function nodeDirectorySource(dir: string): BundleSource {
  const root = resolve(dir);
  const locate = (path: string): string => {
    const full = resolve(root, path);
    if (!full.startsWith(root + sep))
      throw new BundleSourceError(`${path}: outside the bundle at ${root}`, full);
    return full;
  };
  const read = async (path: string): Promise<Buffer> => {
    const full = locate(path);
    try {
      return await readFile(full);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : (error as Error).message;
      throw new BundleSourceError(`${full}: ${why}`, full, undefined, { cause: error });
    }
  };
  return {
    readText: async (path) => (await read(path)).toString('utf8'),
    readBytes: async (path) => {
      const buffer = await read(path);
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    },
    describe: () => root,
  };
}
