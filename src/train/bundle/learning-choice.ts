import {
  Bundle,
  type BundleLearning,
  type BundleManifest,
  type BundleSource,
  MANIFEST_FILE,
} from '../../core/bundle/index.ts';
import type { Dataset } from '../../core/dataset.ts';
import { InputError } from '../../core/errors.ts';
import { chooseLearning, type LearningChoiceOptions } from '../../core/replay/index.ts';
import { prepareReplayNode, replayRunnersNode } from '../replay/run.ts';
import { initTraining } from '../tf/backend.ts';
import type { BundleFiles } from './publish.ts';

/** The bundle being built, before it is published, as a source the loader reads. */
function memorySource(manifest: BundleManifest, files: BundleFiles): BundleSource {
  return {
    readText: async (path) => {
      if (path !== MANIFEST_FILE) throw new InputError(`${path}: not a text file of the bundle being built`);
      return JSON.stringify(manifest);
    },
    readBytes: async (path) => {
      const bytes = files.files.get(path);
      if (!bytes) throw new InputError(`${path}: not a file of the bundle being built`);
      return bytes;
    },
    describe: () => `the bundle being built (${manifest.version})`,
  };
}

/**
 * The bundle's on-device learning, chosen on its validation window before it is published: the replay
 * `edgerec replay --split valid` runs (the bundle's int8 students on onnxruntime-node, the exact scan),
 * over a seeded sample of users, once per setting of the grid (src/core/replay/learning-choice.ts).
 */
export async function chooseBundleLearning(
  manifest: BundleManifest,
  files: BundleFiles,
  checkpointDir: string,
  dataset: Dataset,
  options: LearningChoiceOptions = {},
): Promise<BundleLearning> {
  const bundle = await Bundle.open(memorySource(manifest, files));
  const prepared = await prepareReplayNode({
    models: manifest.version,
    checkpoint: checkpointDir,
    split: 'valid',
    dataset,
    bundle,
  });
  const runners = await replayRunnersNode(prepared);
  try {
    return await chooseLearning(prepared.input, runners, initTraining, options);
  } finally {
    await runners.release();
  }
}
