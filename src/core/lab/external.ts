/**
 * A researcher's own ranker graphs in the lab: the graph's inputs and outputs are read straight from the
 * ONNX protobuf (no runtime needed, so Node and the browser check the same thing before any session is
 * created) and held against the ranker contract the bundle's rankers follow (the manifest's `inputs` /
 * `outputs`: names, dtypes, shapes with a dynamic `batch`). A file that passes is evaluated exactly like a
 * bundle ranker; its dtype and int8 form are read from the graph (float16 initializers → fp16,
 * DequantizeLinear → int8-dq, QuantizeLinear too → int8-qdq), which is what picks the same session
 * settings and execution providers as the bundle's variant of that form.
 */
import type { ExecutionProvider, Int8Form, ModelDtype, ModelEntry, TensorSpec } from '../bundle/manifest.ts';
import { InputError } from '../errors.ts';

/** A ranker graph given by the caller: a label (its file name) and the .onnx bytes. */
export interface LabRankerFile {
  name: string;
  bytes: Uint8Array;
}

/** One graph input or output: ONNX element type and dims (number, a dim_param name, or null = unknown). */
export interface OnnxValueInfo {
  name: string;
  /** TensorProto.DataType (1 float, 7 int64, 10 float16, …); 0 when the graph does not say. */
  elemType: number;
  /** null when the graph gives no shape. */
  dims: (number | string | null)[] | null;
}

export interface OnnxSignature {
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  /** Names of initializers (graph inputs with one are optional). */
  initializers: Set<string>;
  /** TensorProto.DataType of every initializer. */
  initializerTypes: Set<number>;
  /** op_type of every top-level node. */
  ops: Set<string>;
}

const ELEM_TYPES: Record<number, string> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  16: 'bfloat16',
};
const ELEM_CODES: Record<TensorSpec['dtype'], number> = { float32: 1, int64: 7 };
const elemName = (t: number) => (t === 0 ? 'unknown' : (ELEM_TYPES[t] ?? `type ${t}`));

/** A minimal protobuf reader: just what a ModelProto's graph signature needs. */
class Reader {
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    start = 0,
    readonly end = bytes.length,
  ) {
    this.pos = start;
  }
  get done() {
    return this.pos >= this.end;
  }
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const b = this.bytes[this.pos++];
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
    }
    throw new Error('malformed varint');
  }
  /** [field, wire type] of the next key. */
  key(): [number, number] {
    const k = this.varint();
    return [Math.floor(k / 8), k % 8];
  }
  /** A length-delimited field's sub-reader. */
  sub(): Reader {
    const length = this.varint();
    if (this.pos + length > this.end) throw new Error('field runs past the end');
    const r = new Reader(this.bytes, this.pos, this.pos + length);
    this.pos += length;
    return r;
  }
  string(): string {
    const r = this.sub();
    return new TextDecoder().decode(this.bytes.subarray(r.pos, r.end));
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.sub();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
    if (this.pos > this.end) throw new Error('field runs past the end');
  }
}

function readValueInfo(r: Reader): OnnxValueInfo {
  const info: OnnxValueInfo = { name: '', elemType: 0, dims: null };
  while (!r.done) {
    const [field, wire] = r.key();
    if (field === 1 && wire === 2) info.name = r.string();
    else if (field === 2 && wire === 2) {
      // TypeProto.tensor_type (1) → elem_type (1), shape (2) → dim (1) → dim_value (1) | dim_param (2)
      const type = r.sub();
      while (!type.done) {
        const [tf, tw] = type.key();
        if (tf !== 1 || tw !== 2) {
          type.skip(tw);
          continue;
        }
        const tensor = type.sub();
        while (!tensor.done) {
          const [f, w] = tensor.key();
          if (f === 1 && w === 0) info.elemType = tensor.varint();
          else if (f === 2 && w === 2) {
            const shape = tensor.sub();
            info.dims = [];
            while (!shape.done) {
              const [sf, sw] = shape.key();
              if (sf !== 1 || sw !== 2) {
                shape.skip(sw);
                continue;
              }
              const dim = shape.sub();
              let value: number | string | null = null;
              while (!dim.done) {
                const [df, dw] = dim.key();
                if (df === 1 && dw === 0) value = dim.varint();
                else if (df === 2 && dw === 2) value = dim.string();
                else dim.skip(dw);
              }
              info.dims.push(value);
            }
          } else tensor.skip(w);
        }
      }
    } else r.skip(wire);
  }
  return info;
}

/** The graph's inputs, outputs, initializer names and types, and op types, from a ModelProto's bytes. */
export function readOnnxSignature(bytes: Uint8Array): OnnxSignature {
  const signature: OnnxSignature = {
    inputs: [],
    outputs: [],
    initializers: new Set(),
    initializerTypes: new Set(),
    ops: new Set(),
  };
  const model = new Reader(bytes);
  let graphs = 0;
  while (!model.done) {
    const [field, wire] = model.key();
    if (field !== 7 || wire !== 2) {
      model.skip(wire);
      continue;
    }
    graphs++;
    const graph = model.sub();
    while (!graph.done) {
      const [f, w] = graph.key();
      if (w !== 2) {
        graph.skip(w);
        continue;
      }
      if (f === 11) signature.inputs.push(readValueInfo(graph.sub()));
      else if (f === 12) signature.outputs.push(readValueInfo(graph.sub()));
      else if (f === 1) {
        const node = graph.sub();
        while (!node.done) {
          const [nf, nw] = node.key();
          if (nf === 4 && nw === 2) signature.ops.add(node.string());
          else node.skip(nw);
        }
      } else if (f === 5) {
        const tensor = graph.sub();
        while (!tensor.done) {
          const [tf, tw] = tensor.key();
          if (tf === 2 && tw === 0) signature.initializerTypes.add(tensor.varint());
          else if (tf === 8 && tw === 2) signature.initializers.add(tensor.string());
          else tensor.skip(tw);
        }
      } else graph.skip(w);
    }
  }
  if (graphs === 0) throw new Error('no graph');
  return signature;
}

const shapeText = (dims: (number | string | null)[]) =>
  `[${dims.map((d) => (d === null ? '?' : typeof d === 'string' ? d || '?' : String(d))).join(', ')}]`;

/**
 * Why `info` breaks `spec`, or null: dtype, rank, fixed dims equal, the 'batch' dim dynamic, the
 * 'users' dim dynamic or 1 (the lab feeds one user's sequence, or one per candidate: see perCandidate).
 */
function mismatch(info: OnnxValueInfo, spec: TensorSpec): string | null {
  const expected = `${spec.dtype} ${shapeText(spec.shape)}`;
  if (info.elemType !== 0 && info.elemType !== ELEM_CODES[spec.dtype])
    return `is ${elemName(info.elemType)}, expected ${expected}`;
  if (info.dims === null) return null;
  const got = `${elemName(info.elemType)} ${shapeText(info.dims)}`;
  if (info.dims.length !== spec.shape.length) return `has shape ${got}, expected ${expected}`;
  for (const [i, want] of spec.shape.entries()) {
    const have = info.dims[i];
    if (want === 'batch') {
      if (typeof have === 'number')
        return `has a fixed dimension ${i} of ${have}, expected a dynamic batch dimension (${expected})`;
    } else if (want === 'users') {
      if (typeof have === 'number' && have !== 1)
        return `has a fixed dimension ${i} of ${have}, expected 1 or a dynamic dimension (${expected})`;
    } else if (typeof have === 'number' && have !== want) return `has shape ${got}, expected ${expected}`;
  }
  return null;
}

/** The output the lab (and the engine) reads; the contract's other outputs are checked when present. */
export const RANKER_READ_OUTPUT = 'probs';

/**
 * Refuses a graph that breaks the ranker contract, naming the input or output and what was expected:
 * every contract input present with its dtype and shape (a dynamic batch dimension), no other input
 * without an initializer (the lab could not feed it), and the `probs` output [batch, heads].
 */
export function checkRankerContract(
  signature: OnnxSignature,
  contract: Pick<ModelEntry, 'inputs' | 'outputs'>,
  file: string,
): void {
  const fail = (message: string): never => {
    throw new InputError(`${file}: ${message} (the bundle's rankers take ${contractText(contract)})`);
  };
  for (const spec of contract.inputs) {
    const info = signature.inputs.find((i) => i.name === spec.name);
    if (!info) {
      const names = signature.inputs.filter((i) => !signature.initializers.has(i.name)).map((i) => i.name);
      fail(
        `missing input "${spec.name}" (expected ${spec.dtype} ${shapeText(spec.shape)}; the graph's inputs: ${names.join(', ') || 'none'})`,
      );
    } else {
      const why = mismatch(info, spec);
      if (why) fail(`input "${spec.name}" ${why}`);
    }
  }
  for (const info of signature.inputs)
    if (!contract.inputs.some((s) => s.name === info.name) && !signature.initializers.has(info.name))
      fail(
        `unexpected input "${info.name}": the lab feeds only ${contract.inputs.map((s) => `"${s.name}"`).join(', ')}`,
      );
  for (const spec of contract.outputs) {
    const info = signature.outputs.find((o) => o.name === spec.name);
    if (!info) {
      if (spec.name === RANKER_READ_OUTPUT)
        fail(
          `missing output "${spec.name}" (expected ${spec.dtype} ${shapeText(spec.shape)}; the graph's outputs: ${signature.outputs.map((o) => o.name).join(', ') || 'none'})`,
        );
      continue;
    }
    const why = mismatch(info, spec);
    if (why) fail(`output "${spec.name}" ${why}`);
  }
}

function contractText(contract: Pick<ModelEntry, 'inputs' | 'outputs'>): string {
  const list = (specs: TensorSpec[]) =>
    specs.map((s) => `${s.name} ${s.dtype} ${shapeText(s.shape)}`).join(', ');
  return `${list(contract.inputs)} and give ${list(contract.outputs)}`;
}

/** dtype and int8 form of a graph from what it contains. */
export function graphDtype(signature: OnnxSignature): { dtype: ModelDtype; form?: Int8Form } {
  if (signature.ops.has('QuantizeLinear')) return { dtype: 'int8', form: 'qdq' };
  if (
    signature.ops.has('DequantizeLinear') ||
    signature.initializerTypes.has(3) ||
    signature.initializerTypes.has(2)
  )
    return { dtype: 'int8', form: 'dq' };
  if (signature.initializerTypes.has(10)) return { dtype: 'fp16' };
  return { dtype: 'fp32' };
}

/**
 * A contract input with one row per user ('users') that the graph declares per candidate (its dim_param
 * 'batch', which tells ORT the dimension equals the candidates'): fed one copy per candidate, as declared.
 */
function perCandidate(spec: TensorSpec, signature: OnnxSignature): TensorSpec {
  const declared = signature.inputs.find((info) => info.name === spec.name)?.dims?.[0];
  return spec.shape[0] === 'users' && declared === 'batch'
    ? { ...spec, shape: ['batch', ...spec.shape.slice(1)] }
    : spec;
}

/**
 * A checked ranker file as a model entry the lab's runtimes understand: the contract's inputs, outputs
 * and heads, the dtype / form read from the graph, and the providers the bundle gives that form (qdq:
 * wasm only). Throws an InputError for a file that is not ONNX or breaks the contract.
 */
export function externalRankerEntry(file: LabRankerFile, contract: ModelEntry): ModelEntry {
  let signature: OnnxSignature;
  try {
    signature = readOnnxSignature(file.bytes);
  } catch (error) {
    throw new InputError(
      `${file.name}: not an ONNX model (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  checkRankerContract(signature, contract, file.name);
  const { dtype, form } = graphDtype(signature);
  const providers: ExecutionProvider[] = form === 'qdq' ? ['wasm'] : ['webgpu', 'wasm'];
  return {
    file: file.name,
    bytes: file.bytes.byteLength,
    sha256: '',
    kind: 'ranker',
    role: contract.role,
    dtype,
    ...(form ? { form } : {}),
    params: 0,
    inputs: contract.inputs.map((spec) => perCandidate(spec, signature)),
    outputs: contract.outputs,
    ...(contract.heads ? { heads: contract.heads } : {}),
    providers,
    metrics: {},
  };
}
