import { onnx } from './proto.ts';

/** Forces FLOAT for a whole-number value whose attribute name the builder does not know to be a float. */
export interface FloatAttr {
  float: number;
}

export type AttrValue = number | number[] | string | Float32Array | FloatAttr;

/** Wraps a value as a FLOAT attribute even when it is a whole number: `{ ratio: float(1) }`. */
export function float(value: number): FloatAttr {
  return { float: value };
}

/**
 * Attribute names that the ONNX ops we emit declare as FLOAT (LayerNormalization epsilon, Gemm alpha/beta,
 * LeakyRelu/Elu alpha, Shrink bias/lambd…). A JS number cannot say whether `1` means 1 or 1.0, and ORT refuses
 * a model whose attribute has the wrong type, so these names are always written as FLOAT / FLOATS.
 */
export const FLOAT_ATTRIBUTES: ReadonlySet<string> = new Set([
  'epsilon',
  'alpha',
  'beta',
  'gamma',
  'bias',
  'lambd',
  'momentum',
  'ratio',
  'value_float',
  'value_floats',
]);

const Type = onnx.AttributeProto.AttributeType;

/**
 * number → INT when whole, else FLOAT; number[] → INTS when all whole, else FLOATS; Float32Array → FLOATS;
 * string → STRING; `float(x)` → FLOAT. Names in FLOAT_ATTRIBUTES are always FLOAT / FLOATS.
 */
export function makeAttribute(name: string, value: AttrValue): onnx.AttributeProto {
  const forcedFloat = FLOAT_ATTRIBUTES.has(name);
  if (typeof value === 'string') {
    return onnx.AttributeProto.create({ name, type: Type.STRING, s: new TextEncoder().encode(value) });
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new RangeError(`attribute ${name} is ${value}`);
    return forcedFloat || !Number.isInteger(value)
      ? onnx.AttributeProto.create({ name, type: Type.FLOAT, f: value })
      : onnx.AttributeProto.create({ name, type: Type.INT, i: value });
  }
  if (value instanceof Float32Array) {
    return onnx.AttributeProto.create({ name, type: Type.FLOATS, floats: [...value] });
  }
  if (Array.isArray(value)) {
    return forcedFloat || !value.every(Number.isInteger)
      ? onnx.AttributeProto.create({ name, type: Type.FLOATS, floats: value })
      : onnx.AttributeProto.create({ name, type: Type.INTS, ints: value });
  }
  return onnx.AttributeProto.create({ name, type: Type.FLOAT, f: value.float });
}
