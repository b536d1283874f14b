import { InputError } from '../../core/errors.ts';
import type { Feeds } from './feeds.ts';
import { cloneModel } from './graph-edit.ts';
import type { Range } from './int8-targets.ts';
import { DataType, onnx, valueInfo } from './proto.ts';
import { createSession, runOnce } from './run.ts';
import type { ChannelRanges } from './smooth.ts';

/**
 * Min/max of each named float tensor over the calibration feeds, per channel of its last axis: `tensors`
 * maps each name to its channel count (1: one range for the whole tensor), and value i of a tensor belongs
 * to channel i mod count. The tensors become extra graph outputs of a copy of the fp32 model, which
 * onnxruntime-node runs on each feed set. Graph inputs are read from the feeds directly.
 */
export async function calibrateChannels(
  model: onnx.IModelProto,
  tensors: Map<string, number>,
  feeds: Feeds[],
): Promise<Map<string, ChannelRanges>> {
  if (feeds.length === 0) throw new InputError('calibration needs at least one set of inputs');
  const names = [...tensors.keys()];
  const stats = new Map<string, ChannelRanges>(
    names.map((n) => {
      const channels = tensors.get(n)!;
      return [
        n,
        { min: new Float32Array(channels).fill(Infinity), max: new Float32Array(channels).fill(-Infinity) },
      ];
    }),
  );
  if (names.length === 0) return stats;
  const { model: probe, graph } = cloneModel(model);
  const inputs = new Set(graph.input.map((v) => v.name));
  const outputs = new Set(graph.output.map((v) => v.name));
  const fetched = names.filter((n) => !inputs.has(n));
  for (const name of fetched) if (!outputs.has(name)) graph.output.push(valueInfo(name, DataType.FLOAT));
  const session = await createSession(onnx.ModelProto.encode(probe).finish());
  const observe = (name: string, values: ArrayLike<number | bigint>) => {
    const { min, max } = stats.get(name)!;
    const channels = min.length;
    if (values.length % channels !== 0)
      throw new Error(`${name} has ${values.length} values, not a multiple of its ${channels} channels`);
    for (let i = 0; i < values.length; i++) {
      const v = Number(values[i]);
      const ch = i % channels;
      if (v < min[ch]) min[ch] = v;
      if (v > max[ch]) max[ch] = v;
    }
  };
  try {
    for (const feed of feeds) {
      for (const name of names) if (inputs.has(name)) observe(name, feed[name].data);
      const results = await runOnce(session, feed, fetched);
      for (const name of fetched) observe(name, results[name]);
    }
  } finally {
    await session.release();
  }
  // An empty tensor seen on every run leaves ±Infinity: treat it as the point range at 0.
  for (const { min, max } of stats.values())
    for (let ch = 0; ch < min.length; ch++) if (min[ch] > max[ch]) min[ch] = max[ch] = 0;
  return stats;
}

/** Min/max of each named float tensor over the calibration feeds (calibrateChannels, one channel each). */
export async function calibrateRanges(
  model: onnx.IModelProto,
  tensors: Iterable<string>,
  feeds: Feeds[],
): Promise<Map<string, Range>> {
  const stats = await calibrateChannels(model, new Map([...tensors].map((n) => [n, 1])), feeds);
  return new Map([...stats].map(([n, { min, max }]) => [n, { min: min[0], max: max[0] }]));
}
