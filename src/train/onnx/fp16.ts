import { setFloat16 } from '@petamoriken/float16';
import { makeAttribute } from './attributes.ts';
import { cloneModel, constantInitializers, NameSpace, replaceInitializer } from './graph-edit.ts';
import { DataType, elementCount, onnx, rawTensor, readFloat32, tensorDims } from './proto.ts';

/** Smaller tensors (scalars, shape-like constants) are not worth a Cast node. */
export const FP16_MIN_ELEMENTS = 16;

export function toFloat16Bits(values: Float32Array): Uint16Array {
  const bits = new Uint16Array(values.length);
  const view = new DataView(bits.buffer);
  for (let i = 0; i < values.length; i++) setFloat16(view, i * 2, values[i], true);
  return bits;
}

/**
 * fp16 *storage*: each float32 initializer of at least FP16_MIN_ELEMENTS values is stored as FLOAT16 and
 * cast back to FLOAT by a Cast node, so every op still computes in float32 and the model's inputs and
 * outputs stay float32. Storing and computing in fp16 would not run where we need it to: ORT's CPU EP has
 * fp16 kernels for few ops, and the WebGPU adapter in CI (SwiftShader) lacks `shader-f16`. The file halves;
 * outputs equal fp32 up to the fp16 rounding of the weights. (ORT folds the Casts into fp32 initializers
 * when it loads the model, so memory at run time is that of fp32.)
 */
export function quantizeFp16(source: onnx.IModelProto): onnx.ModelProto {
  const { model, graph } = cloneModel(source);
  const names = new NameSpace(graph);
  for (const [name, tensor] of constantInitializers(graph)) {
    if (tensor.dataType !== DataType.FLOAT) continue;
    const dims = tensorDims(tensor);
    if (elementCount(dims) < FP16_MIN_ELEMENTS) continue;
    const stored = names.fresh(`${name}_fp16`);
    replaceInitializer(
      graph,
      name,
      [rawTensor(stored, DataType.FLOAT16, toFloat16Bits(readFloat32(tensor)), dims)],
      onnx.NodeProto.create({
        name: names.fresh(`${name}/Cast`),
        opType: 'Cast',
        input: [stored],
        output: [name],
        attribute: [makeAttribute('to', DataType.FLOAT)],
      }),
    );
  }
  return model;
}
