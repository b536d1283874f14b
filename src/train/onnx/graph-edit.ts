import { onnx } from './proto.ts';

/**
 * A deep copy, so a quantizer can rewrite a model without touching the caller's. Decoding makes every nested
 * message a class instance with its repeated fields present, which the protobufjs types do not say.
 */
export function cloneModel(model: onnx.IModelProto): { model: onnx.ModelProto; graph: onnx.GraphProto } {
  const copy = onnx.ModelProto.decode(onnx.ModelProto.encode(model).finish());
  return { model: copy, graph: copy.graph as onnx.GraphProto };
}

export function nodesOf(graph: onnx.GraphProto): onnx.NodeProto[] {
  return graph.node as onnx.NodeProto[];
}

/** Fresh value and node names that collide with nothing already in the graph. */
export class NameSpace {
  private readonly taken = new Set<string>();

  constructor(graph: onnx.IGraphProto) {
    for (const value of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])])
      this.taken.add(value.name ?? '');
    for (const tensor of graph.initializer ?? []) this.taken.add(tensor.name ?? '');
    for (const node of graph.node ?? []) {
      this.taken.add(node.name ?? '');
      for (const name of [...(node.input ?? []), ...(node.output ?? [])]) this.taken.add(name);
    }
  }

  fresh(base: string): string {
    let name = base;
    for (let i = 1; this.taken.has(name); i++) name = `${base}_${i}`;
    this.taken.add(name);
    return name;
  }
}

/** Initializers a caller cannot override: IR < 4 models also list initializers as inputs (defaults). */
export function constantInitializers(graph: onnx.IGraphProto): Map<string, onnx.ITensorProto> {
  const inputs = new Set((graph.input ?? []).map((v) => v.name));
  const constants = new Map<string, onnx.ITensorProto>();
  for (const tensor of graph.initializer ?? [])
    if (!inputs.has(tensor.name)) constants.set(tensor.name ?? '', tensor);
  return constants;
}

/** Graph inputs that are fed at run time (not initializers listed as inputs). */
export function runtimeInputs(graph: onnx.IGraphProto): onnx.IValueInfoProto[] {
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
  return (graph.input ?? []).filter((v) => !initializers.has(v.name));
}

/** Replaces an initializer by a node computing it: its consumers keep reading the same name. */
export function replaceInitializer(
  graph: onnx.GraphProto,
  name: string,
  tensors: onnx.TensorProto[],
  node: onnx.NodeProto,
): void {
  graph.initializer = [...graph.initializer.filter((t) => t.name !== name), ...tensors];
  // Initializers are available before every node, so a node reading only initializers may lead the list.
  graph.node = [node, ...nodesOf(graph)];
}
