import type {
  ExecutionProvider,
  Int8Form,
  ModelDtype,
  ModelKind,
  ModelRole,
  RankerFusion,
  RankerHead,
  TensorSpec,
} from '../../core/bundle/manifest.ts';
import { RANKER_FUSIONS, RANKER_HEADS } from '../../core/bundle/manifest.ts';
import type { Random } from '../../core/random.ts';
import { encoderIo, exportEncoder } from '../encoder/export.ts';
import { type Feeds, quantizeOnnx } from '../onnx/index.ts';
import { exportRanker, rankerIo } from '../ranker/export.ts';
import { batchOf } from '../ranker/train.ts';
import type { EdgeModels } from './edge-models.ts';
import { encoderFeeds, rankerFeeds } from './feeds.ts';
import { countBefore } from './snapshots.ts';

export interface ModelVariant {
  kind: ModelKind;
  role: ModelRole;
  dtype: ModelDtype;
  form?: Int8Form;
  bytes: Uint8Array;
  params: number;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  heads?: RankerHead[];
  /** Rankers only. */
  fusion?: RankerFusion;
  providers: ExecutionProvider[];
}

/** Rows of training data the int8 `qdq` form calibrates its activation ranges on. */
export const CALIBRATION_ROWS = 512;

type Base = Omit<ModelVariant, 'dtype' | 'form' | 'bytes' | 'providers'>;

/** fp32, fp16, int8 (dq: for webgpu and wasm; qdq: for wasm, whose integer kernels it unlocks). */
async function variantsOf(base: Base, fp32: Uint8Array, calibration: Feeds[]): Promise<ModelVariant[]> {
  return [
    { ...base, dtype: 'fp32', bytes: fp32, providers: ['webgpu', 'wasm'] },
    {
      ...base,
      dtype: 'fp16',
      bytes: await quantizeOnnx(fp32, { dtype: 'fp16' }),
      providers: ['webgpu', 'wasm'],
    },
    {
      ...base,
      dtype: 'int8',
      form: 'dq',
      bytes: await quantizeOnnx(fp32, { dtype: 'int8', form: 'dq' }),
      providers: ['webgpu', 'wasm'],
    },
    {
      ...base,
      dtype: 'int8',
      form: 'qdq',
      bytes: await quantizeOnnx(fp32, { dtype: 'int8', form: 'qdq', calibration }),
      providers: ['wasm'],
    },
  ];
}

/** Exports the teacher and student rankers of each fusion and the compact encoder, each in every dtype. */
export async function modelVariants(
  edge: EdgeModels,
  items: Float32Array,
  random: Random,
): Promise<ModelVariant[]> {
  const { train } = edge.data;
  const dim = train.dim;
  const rows = Int32Array.from({ length: Math.min(CALIBRATION_ROWS, train.examples.size) }, () =>
    random.int(train.examples.size),
  );
  const rankerCalibration = (fusion: RankerFusion) => [
    rankerFeeds(batchOf(train, rows, fusion === 'early'), dim),
  ];
  const encoderShape = edge.encoder.encoder.shape;
  const windows = Array.from({ length: CALIBRATION_ROWS }, () => {
    const s = edge.sequences[random.int(edge.sequences.length)];
    return { items: s.items, actions: s.actions, ts: s.ts, end: countBefore(s.ts, edge.windows.validStart) };
  });
  const encoderCalibration = [encoderFeeds(windows, encoderShape, items)];
  const out: ModelVariant[] = [];
  for (const fusion of RANKER_FUSIONS) {
    for (const role of ['teacher', 'student'] as const) {
      const model = edge.rankers[fusion][role].model;
      const base: Base = {
        kind: 'ranker',
        role,
        params: model.parameterCount(),
        ...rankerIo(dim, model.shape.sequence),
        heads: [...RANKER_HEADS],
        fusion,
      };
      const name = `ranker-${fusion}-${role}`;
      out.push(...(await variantsOf(base, exportRanker(model, name), rankerCalibration(fusion))));
    }
  }
  const encoder = edge.encoder.encoder;
  out.push(
    ...(await variantsOf(
      {
        kind: 'encoder',
        role: 'student',
        params: encoder.parameterCount(),
        ...encoderIo(encoderShape.length, encoderShape.itemDim),
      },
      exportEncoder(encoder, 'encoder'),
      encoderCalibration,
    )),
  );
  return out;
}
