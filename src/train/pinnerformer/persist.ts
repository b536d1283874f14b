import { Random } from '../../core/random.ts';
import { loadCheckpoint, requireTensor, saveCheckpoint } from '../checkpoint.ts';
import { initTraining, tf } from '../tf/backend.ts';
import { DEFAULT_PINNERFORMER_OPTIONS, type PinnerFormerOptions } from './config.ts';
import { PinnerFormerModel } from './model.ts';

interface SavedModel {
  kind: 'pinnerformer';
  options: PinnerFormerOptions;
  numItems: number;
  hasTimestamps: boolean;
  featureDim: number;
}

/**
 * Writes a trained model as a checkpoint folder (state.json + tensors.bin, see checkpoint.ts): the dense
 * weights under their names, `itemIn` and `itemOut` id tables, and the frozen GNN `features` if used.
 */
export function savePinnerFormer(dir: string, model: PinnerFormerModel, hasTimestamps: boolean): void {
  const state: SavedModel = {
    kind: 'pinnerformer',
    options: model.options,
    numItems: model.numItems,
    hasTimestamps,
    featureDim: model.features?.dim ?? 0,
  };
  const tensors: Record<string, { data: Float32Array; shape: number[] }> = {
    itemIn: { data: model.itemIn.values, shape: [model.numItems, model.options.dim] },
    itemOut: { data: model.itemOut.values, shape: [model.numItems, model.options.dim] },
  };
  for (const [name, v] of Object.entries(model.params.export())) tensors[`dense:${name}`] = v;
  if (model.features)
    tensors.features = { data: model.features.table, shape: [model.numItems, model.features.dim] };
  saveCheckpoint(dir, state, tensors);
}

export async function loadPinnerFormer(
  dir: string,
): Promise<{ model: PinnerFormerModel; hasTimestamps: boolean }> {
  await initTraining();
  const checkpoint = loadCheckpoint<SavedModel>(dir);
  if (checkpoint?.state.kind !== 'pinnerformer') throw new Error(`${dir} holds no saved PinnerFormer`);
  const { numItems, featureDim, hasTimestamps } = checkpoint.state;
  // A model saved before an option existed ran with its default.
  const options = { ...DEFAULT_PINNERFORMER_OPTIONS, ...checkpoint.state.options };
  const features =
    featureDim > 0
      ? { table: requireTensor(checkpoint, 'features') as Float32Array, dim: featureDim }
      : undefined;
  const model = new PinnerFormerModel(numItems, options, new Random(options.seed), features);
  model.itemIn.values.set(requireTensor(checkpoint, 'itemIn'));
  model.itemOut.values.set(requireTensor(checkpoint, 'itemOut'));
  for (const [name, v] of model.params.variables)
    v.assign(tf.tensor(requireTensor(checkpoint, `dense:${name}`), v.shape));
  return { model, hasTimestamps };
}
