/**
 * The lab's replay tab inside its worker: the replay evaluation of src/core/replay — the same code as
 * `edgerec replay` — over the bundle's replay pack (a seeded user sample written by `edgerec replay
 * --write-pack`), with the bundle's int8 student encoder and ranker on onnxruntime-web's wasm EP and the
 * exact CPU scan, as the Node command runs them on onnxruntime-node; the learning variants learn with tfjs
 * (wasm, as in Node, else cpu: ./learning.ts).
 */
import { Bundle, type BundleSource, httpBundleSource } from '../../core/bundle/index.ts';
import { InputError } from '../../core/errors.ts';
import type { LabReplayProgress, LabReplayRequest, LabReplayResult } from '../../core/lab/index.ts';
import {
  type BuiltInVariant,
  builtInVariant,
  isLearnedVariant,
  isNamedVariant,
  NAMED_VARIANTS,
  type ReplayPack,
  type ReplayVariant,
  replayInputFromPack,
  replayPackFile,
  replayRunners,
  runReplay,
} from '../../core/replay/index.ts';
import { locateBundle } from '../bundle-location.ts';
import { ModelSession } from '../models/session.ts';
import type { LabTfjs } from './learning.ts';

async function readPack(source: BundleSource, split: string): Promise<ReplayPack> {
  const file = replayPackFile(split);
  try {
    return JSON.parse(await source.readText(file)) as ReplayPack;
  } catch (error) {
    throw new InputError(
      `${source.describe()}${file}: no replay pack (${(error as Error).message}); write one with ` +
        `edgerec replay --split ${split} --max-users N --write-pack`,
    );
  }
}

/** The pack from the bundle's folder, else from `/models/<version>/` (a registry serves no lab files). */
async function packFrom(network: BundleSource, version: string, split: string) {
  try {
    return { pack: await readPack(network, split), url: `${network.describe()}${replayPackFile(split)}` };
  } catch (first) {
    const fallback = new URL(`/models/${version}/`, globalThis.location.href).href;
    if (fallback === network.describe()) throw first;
    try {
      const pack = await readPack(httpBundleSource(fallback), split);
      return { pack, url: `${fallback}${replayPackFile(split)}` };
    } catch {
      throw first;
    }
  }
}

export async function runReplayInWorker(
  request: LabReplayRequest,
  /** The worker relays these so that the result never overtakes them (src/engine/progress-relay.ts). */
  onProgress: (p: LabReplayProgress) => void,
): Promise<LabReplayResult> {
  for (const name of request.variants)
    if (!isNamedVariant(name))
      throw new InputError(`replay: unknown variant "${name}" (${NAMED_VARIANTS.join(', ')})`);
  onProgress({ phase: 'bundle', done: 0, total: 1 });
  const location = await locateBundle(request.bundleUrl);
  if (!location) throw new Error(`could not reach ${request.bundleUrl}`);
  const bundle = await Bundle.open(location.network);
  onProgress({ phase: 'pack', done: 0, total: 1 });
  const { pack, url } = await packFrom(location.network, location.version, request.split);
  if (pack.bundle !== bundle.manifest.version)
    throw new InputError(`${url} was written for bundle ${pack.bundle}, not ${bundle.manifest.version}`);
  onProgress({ phase: 'models', done: 0, total: 1 });
  // What the replay runs (src/train/replay/run.ts): the i8 table, the int8 students in their dq form.
  const table = await bundle.itemTable('i8');
  const catalog = await bundle.catalog();
  const encoderEntry = bundle.model('encoder', 'student', 'int8', 'dq');
  const rankerEntry = bundle.model(
    'ranker',
    'student',
    'int8',
    'dq',
    bundle.manifest.defaultRanker?.fusion ?? 'late',
  );
  // tfjs and the learning code only when a learning variant is asked for: a dynamic import, so the worker's
  // start is unchanged.
  let variants: ReplayVariant[];
  let learning: LabTfjs | undefined;
  if (request.variants.some(isLearnedVariant)) {
    onProgress({ phase: 'tfjs', done: 0, total: 1 });
    ({ variants, tfjs: learning } = await (await import('./learning.ts')).labVariants(request.variants));
  } else variants = request.variants.map((name) => builtInVariant(name as BuiltInVariant));
  const encoder = await ModelSession.create(encoderEntry, await bundle.file(encoderEntry), 'wasm');
  const ranker = await ModelSession.create(rankerEntry, await bundle.file(rankerEntry), 'wasm');
  try {
    const runners = replayRunners(
      table,
      encoderEntry,
      rankerEntry,
      (feeds, output) => encoder.run(feeds, output),
      (feeds, output) => ranker.run(feeds, output),
    );
    const report = await runReplay(replayInputFromPack(pack, table, catalog), runners, variants, {
      seed: pack.seed,
      onProgress: (variant, done, total) => {
        onProgress({ phase: 'run', variant, done, total });
      },
    });
    return {
      bundle: bundle.manifest.version,
      split: pack.split,
      seed: pack.seed,
      sampledUsers: pack.users.length,
      users: report.users,
      requests: report.requests,
      standIns: report.standIns,
      rows: report.rows.map((r) => ({ variant: r.variant, metrics: r.metrics })),
      ...(learning ? { learning: { backend: learning.backend, failures: learning.failures } } : {}),
      packUrl: url,
      command:
        `npx edgerec replay --models DIR --split ${pack.split} --max-users ${pack.maxUsers} ` +
        `--seed ${pack.seed} --variant ${request.variants.join(',')}`,
    };
  } finally {
    await encoder.dispose();
    await ranker.dispose();
  }
}
