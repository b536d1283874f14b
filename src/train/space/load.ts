import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../core/errors.ts';
import { loadPinnerFormer, PinnerFormerRecommender } from '../pinnerformer/index.ts';
import { readRunManifest, readTable } from '../pipeline.ts';
import { BlendRecommender, BlendSpace } from './blend.ts';
import { LightGcnSpace } from './lightgcn-space.ts';
import type { RetrievalModel, UserSpace } from './retrieval-space.ts';
import { LightGcnFoldIn } from './stages.ts';

/** Where each space's tables live inside a run folder (`edgerec train --out DIR`). */
export const RUN_SPACE_FILES: Record<RetrievalModel, { items: string; model: string }> = {
  pinnerformer: { items: join('pinnerformer', 'items.f32'), model: join('pinnerformer', 'model') },
  lightgcn: { items: join('lightgcn', 'items.f32'), model: join('lightgcn', 'fold-in.f32') },
  // The blend's users come from both spaces' files; its own are the concatenated table and run.json's weight.
  blend: { items: join('blend', 'items.f32'), model: 'run.json' },
};

/** PinnerFormer's space: its encoder over the newest `maxLength` actions, its item tower's table. */
export function pinnerFormerSpace(recommender: PinnerFormerRecommender, items: Float32Array): UserSpace {
  const { dim, maxLength } = recommender.trained.options;
  return {
    model: 'pinnerformer',
    dim,
    maxLength,
    hasTimestamps: recommender.timestamps,
    items,
    embedSequences: (sequences) => recommender.embedSequences(sequences),
  };
}

/**
 * The retrieval space a run chose (run.json's `retrieval`; runs from before the choice existed are
 * PinnerFormer's), or the one `model` names. Refuses a run that lacks the space's files.
 */
export async function loadUserSpace(runDir: string, model?: RetrievalModel): Promise<UserSpace> {
  const chosen = model ?? readRunManifest(runDir).retrieval?.model ?? 'pinnerformer';
  if (chosen === 'blend') return loadBlendSpace(runDir);
  const files = RUN_SPACE_FILES[chosen];
  for (const path of [files.items, files.model]) {
    if (!existsSync(join(runDir, path)))
      throw new InputError(
        `${runDir} has no ${chosen} retrieval space: ${join(runDir, path)} is missing ` +
          `(train it with \`edgerec train --models …,${chosen}\`)`,
      );
  }
  const items = readTable(join(runDir, files.items));
  if (chosen === 'lightgcn') {
    const run = readRunManifest(runDir);
    const dim = run.tables[files.items]?.[1];
    if (!dim) throw new InputError(`${runDir}/run.json does not give the shape of ${files.items}`);
    return new LightGcnSpace(items, readTable(join(runDir, files.model)), dim);
  }
  const { model: trained, hasTimestamps } = await loadPinnerFormer(join(runDir, files.model));
  return pinnerFormerSpace(PinnerFormerRecommender.fromModel(trained, hasTimestamps), items);
}

/** The blend run.json records, over both spaces' files and the concatenated table `edgerec train` wrote. */
async function loadBlendSpace(runDir: string): Promise<BlendSpace> {
  const blend = readRunManifest(runDir).retrieval?.blend;
  if (!blend)
    throw new InputError(
      `${runDir}/run.json records no blend (train both spaces: \`edgerec train --models …,pinnerformer,lightgcn\`)`,
    );
  const [pinnerformer, lightgcn] = await Promise.all([
    loadUserSpace(runDir, 'pinnerformer'),
    loadUserSpace(runDir, 'lightgcn'),
  ]);
  const itemsFile = join(runDir, RUN_SPACE_FILES.blend.items);
  return new BlendSpace(
    pinnerformer,
    lightgcn,
    blend,
    existsSync(itemsFile) ? readTable(itemsFile) : undefined,
  );
}

/**
 * The blend a run chose on validation, as the harness scores it: PinnerFormer's and LightGCN's fold-in
 * scores mixed at run.json's weight and scales (`edgerec eval --model blend --checkpoint RUN`).
 */
export async function loadRunBlend(runDir: string): Promise<BlendRecommender> {
  const run = readRunManifest(runDir);
  const blend = run.retrieval?.blend;
  if (!blend)
    throw new InputError(
      `${runDir}/run.json records no blend (train both spaces: \`edgerec train --models …,pinnerformer,lightgcn\`)`,
    );
  const dim = run.tables[RUN_SPACE_FILES.lightgcn.items]?.[1];
  if (!dim)
    throw new InputError(`${runDir}/run.json does not give the shape of ${RUN_SPACE_FILES.lightgcn.items}`);
  const { model, hasTimestamps } = await loadPinnerFormer(join(runDir, RUN_SPACE_FILES.pinnerformer.model));
  const lightgcn = new LightGcnFoldIn(
    readTable(join(runDir, RUN_SPACE_FILES.lightgcn.items)),
    readTable(join(runDir, RUN_SPACE_FILES.lightgcn.model)),
    dim,
  );
  return new BlendRecommender(PinnerFormerRecommender.fromModel(model, hasTimestamps), lightgcn, blend);
}
