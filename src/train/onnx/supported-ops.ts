import { InputError } from '../../core/errors.ts';
import { attributeInt, DataType, type onnx, toNumber } from './proto.ts';

/**
 * The default-domain ops a model may use: what our exporters emit plus what a researcher's MLP/transformer-style
 * ranker needs, every one with a kernel in onnxruntime-node (CPU) and onnxruntime-web (wasm, and webgpu for all
 * but the shape-only ones). `Constant` is here because exporters such as torch.onnx emit it for shape values.
 */
export const SUPPORTED_OPS: readonly string[] = [
  'MatMul',
  'Gemm',
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Relu',
  'Sigmoid',
  'Tanh',
  'Softmax',
  'LayerNormalization',
  'Concat',
  'Gather',
  'Reshape',
  'Transpose',
  'Unsqueeze',
  'Squeeze',
  'ReduceMean',
  'ReduceSum',
  'ReduceL2',
  'Sqrt',
  'Pow',
  'Exp',
  'Log',
  'Neg',
  'Clip',
  'Max',
  'Min',
  'Where',
  'Cast',
  'Identity',
  'Slice',
  'Split',
  'Shape',
  'Expand',
  'Equal',
  'Less',
  'Greater',
  'Not',
  'And',
  'Erf',
  'Constant',
];

const SUPPORTED = new Set(SUPPORTED_OPS);

/** Per-axis DequantizeLinear, which the int8 variants insert, exists from opset 13. */
export const MIN_OPSET = 13;

const QUANTIZED_TYPES = new Map<number, string>([
  [DataType.FLOAT16, 'float16'],
  [DataType.BFLOAT16, 'bfloat16'],
  [DataType.INT8, 'int8'],
  [DataType.UINT8, 'uint8'],
]);

const QUANTIZE_OPS = new Set([
  'QuantizeLinear',
  'DequantizeLinear',
  'DynamicQuantizeLinear',
  'MatMulInteger',
  'QLinearMatMul',
  'MatMulIntegerToFloat',
  'DynamicQuantizeMatMul',
  'MatMulNBits',
]);

function isDefaultDomain(domain: string | null | undefined): boolean {
  return !domain || domain === 'ai.onnx';
}

/** The version of the default-domain opset the model imports (0 when it imports none). */
export function defaultOpset(model: onnx.IModelProto): number {
  const entry = model.opsetImport?.find((o) => isDefaultDomain(o.domain));
  return entry ? toNumber(entry.version) : 0;
}

function quantizedReason(graph: onnx.IGraphProto): string | undefined {
  for (const tensor of graph.initializer ?? []) {
    const kind = QUANTIZED_TYPES.get(tensor.dataType ?? 0);
    if (kind) return `initializer ${tensor.name} is ${kind}`;
  }
  for (const value of [...(graph.input ?? []), ...(graph.output ?? [])]) {
    const kind = QUANTIZED_TYPES.get(value.type?.tensorType?.elemType ?? 0);
    if (kind) return `graph value ${value.name} is ${kind}`;
  }
  for (const node of graph.node ?? []) {
    if (QUANTIZE_OPS.has(node.opType ?? '')) return `it has a ${node.opType} node (${node.name})`;
    if (node.opType === 'Cast' && QUANTIZED_TYPES.has(attributeInt(node, 'to', 0)))
      return `node ${node.name} casts to ${QUANTIZED_TYPES.get(attributeInt(node, 'to', 0))}`;
  }
  return undefined;
}

/**
 * Throws an InputError unless the model is an fp32 graph of SUPPORTED_OPS at opset >= 13: names every
 * unsupported op type at once, so a researcher sees the whole list, not the first offender.
 */
export function checkSupported(model: onnx.IModelProto): void {
  const graph = model.graph;
  if (!graph) throw new InputError('the model has no graph');
  const quantized = quantizedReason(graph);
  if (quantized)
    throw new InputError(`the model is already quantized (${quantized}); start from the fp32 model`);
  if ((graph.sparseInitializer?.length ?? 0) > 0)
    throw new InputError('sparse initializers are not supported; store them dense');
  const opset = defaultOpset(model);
  if (opset < MIN_OPSET)
    throw new InputError(`the model imports opset ${opset}; edgerec needs opset ${MIN_OPSET} or later`);
  const unsupported = new Set<string>();
  for (const node of graph.node ?? []) {
    const opType = node.opType ?? '';
    if (!isDefaultDomain(node.domain)) unsupported.add(`${node.domain}.${opType}`);
    else if (!SUPPORTED.has(opType)) unsupported.add(opType);
  }
  if (unsupported.size > 0) {
    throw new InputError(
      `unsupported op type${unsupported.size > 1 ? 's' : ''} ${[...unsupported].sort().join(', ')} ` +
        `(supported: ${SUPPORTED_OPS.join(', ')})`,
    );
  }
}
