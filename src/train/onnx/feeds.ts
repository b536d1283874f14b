import { InputError } from '../../core/errors.ts';
import { Random } from '../../core/random.ts';
import { runtimeInputs } from './graph-edit.ts';
import { DataType, elementCount, type onnx, toNumber } from './proto.ts';

export interface Feed {
  data: Float32Array | BigInt64Array;
  dims: number[];
}

/** One set of inputs for a model run, by input name. */
export type Feeds = Record<string, Feed>;

export interface InputSpec {
  name: string;
  dtype: 'float32' | 'int64' | 'other';
  /** A fixed size, or undefined for a dynamic (symbolic or unknown) dim. */
  dims: (number | undefined)[] | undefined;
}

export function inputSpecs(model: onnx.IModelProto): InputSpec[] {
  return runtimeInputs(model.graph ?? {}).map((value) => {
    const tensor = value.type?.tensorType;
    const elem = tensor?.elemType ?? 0;
    return {
      name: value.name ?? '',
      dtype: elem === DataType.FLOAT ? 'float32' : elem === DataType.INT64 ? 'int64' : 'other',
      dims: tensor?.shape?.dim?.map((d) =>
        d.dimValue != null && !d.dimParam ? toNumber(d.dimValue) : undefined,
      ),
    };
  });
}

/**
 * `samples` rows of seeded standard-normal inputs: a dynamic first dim takes all rows in one run; a fixed
 * one takes ceil(samples / size) runs; other dynamic dims are 1. Index (int64) inputs cannot be invented
 * meaningfully, so those need real calibration data.
 */
export function randomFeeds(model: onnx.IModelProto, samples: number, seed: number): Feeds[] {
  const specs = inputSpecs(model);
  if (specs.length === 0) throw new InputError('the model has no inputs to calibrate with');
  for (const spec of specs) {
    if (spec.dtype === 'int64')
      throw new InputError(
        `input ${spec.name} is int64 (indices); random inputs would be meaningless, pass --calibration FILE.json`,
      );
    if (spec.dtype !== 'float32')
      throw new InputError(`input ${spec.name} is neither float32 nor int64; pass --calibration FILE.json`);
    if (!spec.dims) throw new InputError(`input ${spec.name} has no shape; pass --calibration FILE.json`);
  }
  const fixedRows = specs.map((s) => (s.dims!.length > 0 ? s.dims![0] : 1)).find((d) => d !== undefined);
  const batchDynamic = specs.some((s) => s.dims!.length > 0 && s.dims![0] === undefined);
  const runs = batchDynamic ? 1 : Math.ceil(samples / Math.max(1, fixedRows ?? 1));
  const random = new Random(seed);
  const feeds: Feeds[] = [];
  for (let run = 0; run < runs; run++) {
    const feed: Feeds = {};
    for (const spec of specs) {
      const dims = spec.dims!.map((d, axis) => d ?? (axis === 0 ? samples : 1));
      const data = new Float32Array(elementCount(dims));
      for (let i = 0; i < data.length; i++) data[i] = random.normal();
      feed[spec.name] = { data, dims };
    }
    feeds.push(feed);
  }
  return feeds;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Calibration feeds from parsed JSON: `[{ "<input>": { "dims": [...], "data": [...] } }, ...]`, every
 * model input in every entry. Errors name the entry and input (`source: [2].ids: …`).
 */
export function parseFeeds(json: unknown, model: onnx.IModelProto, source: string): Feeds[] {
  if (!Array.isArray(json) || json.length === 0)
    throw new InputError(`${source}: expected a non-empty JSON array of {input: {dims, data}} objects`);
  const specs = inputSpecs(model);
  return json.map((entry, index) => {
    const where = `${source}: [${index}]`;
    if (!isRecord(entry)) throw new InputError(`${where}: expected an object of inputs`);
    const known = new Set(specs.map((s) => s.name));
    for (const key of Object.keys(entry))
      if (!known.has(key)) throw new InputError(`${where}: the model has no input ${key}`);
    const feeds: Feeds = {};
    for (const spec of specs) {
      const value = entry[spec.name];
      if (!isRecord(value)) throw new InputError(`${where}.${spec.name}: missing (expected {dims, data})`);
      const { dims, data } = value;
      if (!Array.isArray(dims) || !dims.every((d) => Number.isInteger(d) && d >= 0))
        throw new InputError(`${where}.${spec.name}.dims: expected an array of non-negative integers`);
      if (!Array.isArray(data) || !data.every((v) => typeof v === 'number' && Number.isFinite(v)))
        throw new InputError(`${where}.${spec.name}.data: expected an array of finite numbers`);
      if (data.length !== elementCount(dims))
        throw new InputError(
          `${where}.${spec.name}: data has ${data.length} values, dims [${dims.join(', ')}] need ${elementCount(dims)}`,
        );
      if (spec.dtype === 'int64') {
        if (!data.every(Number.isSafeInteger))
          throw new InputError(`${where}.${spec.name}.data: input ${spec.name} is int64, expected integers`);
        feeds[spec.name] = { data: BigInt64Array.from(data, (v) => BigInt(v)), dims };
      } else if (spec.dtype === 'float32') {
        feeds[spec.name] = { data: Float32Array.from(data), dims };
      } else {
        throw new InputError(`${where}.${spec.name}: only float32 and int64 inputs are supported`);
      }
    }
    checkFeeds(model, [feeds], where);
    return feeds;
  });
}

/** Every runtime input present, of the right type, with its fixed dims matched: before ORT sees them. */
export function checkFeeds(model: onnx.IModelProto, feeds: Feeds[], source = 'calibration'): void {
  const specs = inputSpecs(model);
  feeds.forEach((feed, index) => {
    for (const spec of specs) {
      const where = `${source}${feeds.length > 1 ? ` [${index}]` : ''}: input ${spec.name}`;
      const value = feed[spec.name];
      if (!value) throw new InputError(`${where} is missing`);
      const dtype = value.data instanceof Float32Array ? 'float32' : 'int64';
      if (dtype !== spec.dtype) throw new InputError(`${where} is ${spec.dtype}, given ${dtype}`);
      if (spec.dims) {
        const ok =
          value.dims.length === spec.dims.length &&
          spec.dims.every((d, i) => d === undefined || d === value.dims[i]);
        if (!ok)
          throw new InputError(
            `${where} has dims [${value.dims.join(', ')}]; the model expects [${spec.dims.map((d) => d ?? '?').join(', ')}]`,
          );
      }
    }
  });
}
