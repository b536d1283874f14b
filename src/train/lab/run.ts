/**
 * The lab in Node: the shared driver (`src/core/lab/run.ts`) on onnxruntime-node with the accuracy
 * settings of the bundle's own metrics (`NODE_SESSION_OPTIONS`) and the reference scan
 * (`src/core/retrieval/reference.ts`, which every browser kernel reproduces bit for bit). Latencies are
 * Node's on this machine's CPU, labelled `cpu`; they say nothing about a browser's.
 */

import { Bundle, type DecodedItemTable } from '../../core/bundle/index.ts';
import {
  type LabProgress,
  type LabResult,
  type LabRunOptions,
  type LabRuntime,
  type LabSplit,
  loadEvalPack,
  runLab,
} from '../../core/lab/index.ts';
import { halfToFloat, referenceTopK } from '../../core/retrieval/index.ts';
import { createSession, runOnce } from '../onnx/run.ts';
import { directorySource, resolveBundleDir } from './source.ts';

export const nodeLabRuntime: LabRuntime = {
  name: 'node',
  async session(_entry, bytes) {
    // NODE_SESSION_OPTIONS runs every form, qdq included, as onnxruntime-web does: see its comment.
    const session = await createSession(bytes);
    return {
      async run(feeds, output) {
        const result = await runOnce(session, feeds, [output]);
        return result[output] as Float32Array;
      },
      release: () => session.release(),
    };
  },
  async retriever(table) {
    // f16 rows widen to f32 exactly, so scanning a widened copy gives the reference's scores bit for bit
    // without widening the whole table on every query.
    const scanned: DecodedItemTable =
      table.dtype === 'f16'
        ? { ...table, dtype: 'f32', values: Float32Array.from(table.values as Uint16Array, halfToFloat) }
        : table;
    return {
      backend: 'reference',
      topK: (query, k) => referenceTopK(scanned, query, k),
      dispose() {},
    };
  },
  supports: () => true,
  now: () => performance.now(),
};

export async function runLabNode(
  models: string,
  split: LabSplit,
  options: Omit<LabRunOptions, 'devices'>,
  onProgress?: (p: LabProgress) => void,
): Promise<LabResult> {
  const source = directorySource(resolveBundleDir(models));
  const bundle = await Bundle.open(source);
  const { pack } = await loadEvalPack(source, split);
  return runLab(bundle, pack, nodeLabRuntime, { ...options, devices: ['cpu'] }, onProgress);
}
