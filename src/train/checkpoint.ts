import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Checkpoint layout (one folder):
 *   state.json   — `{ format: 1, state: <trainer's JSON>, tensors: { name: { dtype, offset, length, shape } } }`
 *   tensors.bin  — every tensor's bytes, little-endian, 4-byte aligned, at the offsets above.
 * A save writes a sibling temp folder and swaps it in with renames, so a run killed mid-save leaves the
 * previous checkpoint intact.
 */
export type TensorArray = Float32Array | Int32Array;

export interface TensorEntry {
  dtype: 'float32' | 'int32';
  offset: number;
  length: number;
  shape: number[];
}

export interface Checkpoint<S> {
  state: S;
  tensors: Map<string, TensorArray>;
  shapes: Map<string, number[]>;
}

const STATE_FILE = 'state.json';
const TENSOR_FILE = 'tensors.bin';

export function saveCheckpoint<S>(
  dir: string,
  state: S,
  tensors: Record<string, TensorArray | { data: TensorArray; shape: number[] }>,
): void {
  const index: Record<string, TensorEntry> = {};
  let offset = 0;
  const parts: [number, TensorArray][] = [];
  for (const [name, value] of Object.entries(tensors)) {
    const data = 'shape' in value && !ArrayBuffer.isView(value) ? value.data : (value as TensorArray);
    const shape = 'shape' in value && !ArrayBuffer.isView(value) ? value.shape : [data.length];
    index[name] = {
      dtype: data instanceof Int32Array ? 'int32' : 'float32',
      offset,
      length: data.length,
      shape,
    };
    parts.push([offset, data]);
    offset += data.byteLength;
  }
  const bytes = new Uint8Array(offset);
  for (const [at, data] of parts)
    bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);

  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  const temp = join(parent, `.${basename(dir)}.tmp-${process.pid}`);
  const old = join(parent, `.${basename(dir)}.old-${process.pid}`);
  rmSync(temp, { recursive: true, force: true });
  mkdirSync(temp);
  writeFileSync(join(temp, TENSOR_FILE), bytes);
  writeFileSync(join(temp, STATE_FILE), `${JSON.stringify({ format: 1, state, tensors: index }, null, 1)}\n`);
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(temp, dir);
  rmSync(old, { recursive: true, force: true });
}

/** Loads a checkpoint folder, or returns undefined when there is none. */
export function loadCheckpoint<S>(dir: string): Checkpoint<S> | undefined {
  const statePath = join(dir, STATE_FILE);
  if (!existsSync(statePath)) return undefined;
  const parsed = JSON.parse(readFileSync(statePath, 'utf8')) as {
    format: number;
    state: S;
    tensors: Record<string, TensorEntry>;
  };
  if (parsed.format !== 1) throw new Error(`${statePath}: unknown checkpoint format ${parsed.format}`);
  const file = readFileSync(join(dir, TENSOR_FILE));
  const buffer = file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength);
  const tensors = new Map<string, TensorArray>();
  const shapes = new Map<string, number[]>();
  for (const [name, entry] of Object.entries(parsed.tensors)) {
    const Kind = entry.dtype === 'int32' ? Int32Array : Float32Array;
    tensors.set(name, new Kind(buffer.slice(entry.offset, entry.offset + entry.length * 4)));
    shapes.set(name, entry.shape);
  }
  return { state: parsed.state, tensors, shapes };
}

export function requireTensor(checkpoint: Checkpoint<unknown>, name: string): TensorArray {
  const tensor = checkpoint.tensors.get(name);
  if (!tensor) throw new Error(`checkpoint lacks tensor "${name}"`);
  return tensor;
}
