import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../core/errors.ts';
import { loadPinnerFormer, PinnerFormerRecommender } from '../pinnerformer/index.ts';
import { readRunManifest, readTable } from '../pipeline.ts';
import { LightGcnSpace } from './lightgcn-space.ts';
import type { RetrievalModel, UserSpace } from './retrieval-space.ts';

/** Where each space's tables live inside a run folder (`edgerec train --out DIR`). */
export const RUN_SPACE_FILES: Record<RetrievalModel, { items: string; model: string }> = {
  pinnerformer: { items: join('pinnerformer', 'items.f32'), model: join('pinnerformer', 'model') },
  lightgcn: { items: join('lightgcn', 'items.f32'), model: join('lightgcn', 'fold-in.f32') },
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
