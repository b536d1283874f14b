import { InputError } from '../../core/errors.ts';
import { type AttrValue, makeAttribute } from './attributes.ts';
import {
  DataType,
  elementCount,
  float32Tensor,
  int64Tensor,
  onnx,
  rawTensor,
  toNumber,
  valueInfo,
} from './proto.ts';

/**
 * A tensor dimension: a fixed size, or a symbolic (dynamic) dim_param: 'batch' (one row per candidate)
 * or 'users' (one row per user, where 1 broadcasts over every candidate).
 */
export type Dim = number | 'batch' | 'users';

export type TensorDtype = 'float32' | 'int64';

export const IR_VERSION = 8;
export const OPSET = 17;

const ELEM_TYPE: Record<TensorDtype, number> = { float32: DataType.FLOAT, int64: DataType.INT64 };

export interface ModelMeta {
  docString?: string;
  producer?: string;
  metadata?: Record<string, string>;
}

interface PendingOutput {
  value: string;
  name: string;
  dtype: TensorDtype;
  shape: Dim[];
}

/**
 * Builds an ONNX graph (IR 8, opset 17, default domain only) one node at a time. Every method returns the
 * name of the value it made, so layers chain like function calls; node and value names are made unique.
 */
export class GraphBuilder {
  private readonly nodes: onnx.NodeProto[] = [];
  private readonly initializers: onnx.TensorProto[] = [];
  private readonly inputs: onnx.ValueInfoProto[] = [];
  private readonly outputs: PendingOutput[] = [];
  private readonly values = new Set<string>();
  private readonly nodeNames = new Set<string>();
  private readonly produced = new Set<string>();

  constructor(private readonly name: string) {}

  /** A graph input; its name is kept exactly, since callers feed it by name. */
  input(name: string, dtype: TensorDtype, shape: Dim[]): string {
    if (this.values.has(name)) throw new Error(`graph ${this.name} already has a value named ${name}`);
    this.values.add(name);
    this.inputs.push(valueInfo(name, ELEM_TYPE[dtype], shape));
    return name;
  }

  /** An initializer; Int32Array data is widened to INT64, the index type ONNX shape and gather ops take. */
  constant(name: string, data: Float32Array | BigInt64Array | Int32Array, dims: number[]): string {
    if (data.length !== elementCount(dims))
      throw new RangeError(`constant ${name}: ${data.length} values do not fill dims [${dims.join(', ')}]`);
    const unique = this.uniqueValue(name);
    this.initializers.push(
      data instanceof Float32Array ? float32Tensor(unique, data, dims) : int64Tensor(unique, data, dims),
    );
    return unique;
  }

  /** An INT8 initializer (a pre-quantized weight, e.g. MatMulInteger's B). */
  int8Constant(name: string, data: Int8Array, dims: number[]): string {
    if (data.length !== elementCount(dims))
      throw new RangeError(`constant ${name}: ${data.length} values do not fill dims [${dims.join(', ')}]`);
    const unique = this.uniqueValue(name);
    this.initializers.push(rawTensor(unique, DataType.INT8, data, dims));
    return unique;
  }

  /** A float32 scalar (dims []) initializer. */
  scalar(value: number, name = 'scalar'): string {
    return this.constant(name, new Float32Array([value]), []);
  }

  /** One node with a single output. Attribute typing rules: see `makeAttribute`. */
  op(opType: string, inputs: string[], attrs?: Record<string, AttrValue>, name?: string): string {
    return this.opMulti(opType, inputs, 1, attrs, name)[0];
  }

  /** One node with `outputs` outputs (Split, …). An empty input name marks an omitted optional input. */
  opMulti(
    opType: string,
    inputs: string[],
    outputs: number,
    attrs?: Record<string, AttrValue>,
    name?: string,
  ): string[] {
    for (const input of inputs)
      if (input !== '' && !this.values.has(input))
        throw new Error(`${opType}: input ${input} is not a value of graph ${this.name}`);
    const nodeName = this.uniqueNode(name ?? opType);
    const outputNames = Array.from({ length: outputs }, (_, i) =>
      this.uniqueValue(outputs === 1 ? `${nodeName}_out` : `${nodeName}_out${i}`),
    );
    for (const output of outputNames) this.produced.add(output);
    this.nodes.push(
      onnx.NodeProto.create({
        name: nodeName,
        opType,
        input: inputs,
        output: outputNames,
        attribute: Object.entries(attrs ?? {}).map(([key, value]) => makeAttribute(key, value)),
      }),
    );
    return outputNames;
  }

  /** Exposes `value` as the graph output `name` (renaming its producer's output, or through an Identity). */
  output(value: string, name: string, dtype: TensorDtype, shape: Dim[]): void {
    if (!this.values.has(value))
      throw new Error(`output ${name}: ${value} is not a value of graph ${this.name}`);
    if (this.outputs.some((o) => o.name === name))
      throw new Error(`graph ${this.name} has two outputs ${name}`);
    if (name !== value && this.values.has(name))
      throw new Error(`output ${name} would clash with another value of graph ${this.name}`);
    this.values.add(name);
    this.outputs.push({ value, name, dtype, shape });
  }

  /** x · W (+ b) with W stored [inDim, outDim] row-major, as tfjs dense kernels are. */
  dense(
    x: string,
    weight: Float32Array,
    bias: Float32Array | undefined,
    inDim: number,
    outDim: number,
    name: string,
  ): string {
    const kernel = this.constant(`${name}/kernel`, weight, [inDim, outDim]);
    const product = this.op('MatMul', [x, kernel], undefined, `${name}/MatMul`);
    if (!bias) return product;
    if (bias.length !== outDim)
      throw new RangeError(`${name}: bias has ${bias.length} values, not ${outDim}`);
    return this.op('Add', [product, this.constant(`${name}/bias`, bias, [outDim])], undefined, `${name}/Add`);
  }

  /** LayerNormalization over the last axis. */
  layerNorm(x: string, gamma: Float32Array, beta: Float32Array, epsilon: number, name: string): string {
    if (gamma.length !== beta.length)
      throw new RangeError(`${name}: gamma has ${gamma.length} values, beta ${beta.length}`);
    const scale = this.constant(`${name}/gamma`, gamma, [gamma.length]);
    const offset = this.constant(`${name}/beta`, beta, [beta.length]);
    return this.op('LayerNormalization', [x, scale, offset], { axis: -1, epsilon }, name);
  }

  /** The serialized ModelProto. */
  toBytes(meta: ModelMeta = {}): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET }],
      producerName: meta.producer ?? 'edgerec',
      docString: meta.docString ?? '',
      metadataProps: Object.entries(meta.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: this.graph(),
    });
    return onnx.ModelProto.encode(model).finish();
  }

  private graph(): onnx.GraphProto {
    // An output that is a node's result takes over that result's name; a second exposure of the same value,
    // or an exposed input or initializer, needs an Identity, since one value cannot have two names.
    const renamed = new Map<string, string>();
    const identities: onnx.NodeProto[] = [];
    for (const out of this.outputs) {
      const source = renamed.get(out.value) ?? out.value;
      if (source === out.name) continue;
      if (this.produced.has(out.value) && !renamed.has(out.value)) {
        renamed.set(out.value, out.name);
      } else {
        identities.push(
          onnx.NodeProto.create({
            name: this.uniqueNode(`${out.name}/Identity`),
            opType: 'Identity',
            input: [source],
            output: [out.name],
          }),
        );
      }
    }
    const rename = (value: string) => renamed.get(value) ?? value;
    const nodes = this.nodes.map((node) =>
      onnx.NodeProto.create({ ...node, input: node.input.map(rename), output: node.output.map(rename) }),
    );
    return onnx.GraphProto.create({
      name: this.name,
      node: [...nodes, ...identities],
      initializer: this.initializers,
      input: this.inputs,
      output: this.outputs.map((o) => valueInfo(o.name, ELEM_TYPE[o.dtype], o.shape)),
    });
  }

  private uniqueValue(base: string): string {
    let name = base;
    for (let i = 1; this.values.has(name); i++) name = `${base}_${i}`;
    this.values.add(name);
    return name;
  }

  private uniqueNode(base: string): string {
    let name = base;
    for (let i = 1; this.nodeNames.has(name); i++) name = `${base}_${i}`;
    this.nodeNames.add(name);
    return name;
  }
}

/** Decodes and sanity-checks a serialized model; anything that is not one is an InputError. */
export function readModel(bytes: Uint8Array): onnx.ModelProto {
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (error) {
    throw new InputError(`not an ONNX model (${error instanceof Error ? error.message : String(error)})`);
  }
  // Protobuf decodes many byte strings without complaint; a model has at least a graph and an opset.
  if (!model.graph || toNumber(model.irVersion) <= 0 || model.opsetImport.length === 0)
    throw new InputError('not an ONNX model (no graph, IR version or opset)');
  return model;
}
