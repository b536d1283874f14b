import onnxProto from 'onnx-proto';
import { InputError } from '../../core/errors.ts';

// onnx-proto is CommonJS (`module.exports = $root`), so Node's ESM loader offers no named `onnx` export:
// `import { onnx } from 'onnx-proto'` type-checks but throws at run time. This alias is both the runtime
// namespace and its types.
export import onnx = onnxProto.onnx;

export const DataType = onnx.TensorProto.DataType;

/** protobufjs decodes int64 fields (dims, INT attributes) as Long objects when `long` is installed. */
export function toNumber(value: number | { toNumber(): number } | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : value.toNumber();
}

export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

export function tensorDims(tensor: onnx.ITensorProto): number[] {
  return (tensor.dims ?? []).map((d) => toNumber(d));
}

/** A copy of the bytes: decoded rawData is a view into the model buffer, often at an unaligned offset. */
function rawBytes(tensor: onnx.ITensorProto): Uint8Array | undefined {
  const raw = tensor.rawData;
  return raw && raw.length > 0 ? new Uint8Array(raw) : undefined;
}

function rejectExternal(tensor: onnx.ITensorProto): void {
  if (
    tensor.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL ||
    (tensor.externalData?.length ?? 0) > 0
  )
    throw new InputError(
      `initializer ${tensor.name} keeps its data in an external file, which is not supported`,
    );
}

/** The values of a FLOAT tensor, from raw_data or float_data. */
export function readFloat32(tensor: onnx.ITensorProto): Float32Array {
  rejectExternal(tensor);
  if (tensor.dataType !== DataType.FLOAT) throw new Error(`tensor ${tensor.name} is not float32`);
  const raw = rawBytes(tensor);
  if (raw) return new Float32Array(raw.buffer, 0, raw.byteLength / 4);
  return Float32Array.from(tensor.floatData ?? []);
}

export function float32Tensor(name: string, data: Float32Array, dims: readonly number[]): onnx.TensorProto {
  return onnx.TensorProto.create({
    name,
    dataType: DataType.FLOAT,
    dims: [...dims],
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice(),
  });
}

export function int64Tensor(
  name: string,
  data: BigInt64Array | Int32Array,
  dims: readonly number[],
): onnx.TensorProto {
  const values = data instanceof BigInt64Array ? data : BigInt64Array.from(data, (v) => BigInt(v));
  return onnx.TensorProto.create({
    name,
    dataType: DataType.INT64,
    dims: [...dims],
    rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice(),
  });
}

/** INT8 / UINT8 / FLOAT16 (as raw uint16 bits) tensors: raw bytes with a given element type. */
export function rawTensor(
  name: string,
  dataType: number,
  data: Int8Array | Uint8Array | Uint16Array,
  dims: readonly number[],
): onnx.TensorProto {
  return onnx.TensorProto.create({
    name,
    dataType,
    dims: [...dims],
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice(),
  });
}

/** A value_info for a tensor; `shape` entries that are strings become symbolic (dynamic) dims. */
export function valueInfo(
  name: string,
  elemType: number,
  shape?: readonly (number | string)[],
): onnx.ValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType,
        shape: shape
          ? { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) }
          : undefined,
      },
    },
  });
}

export function attributeInt(node: onnx.INodeProto, name: string, fallback: number): number {
  const attr = node.attribute?.find((a) => a.name === name);
  return attr ? toNumber(attr.i) : fallback;
}
