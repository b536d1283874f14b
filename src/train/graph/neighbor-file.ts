import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { endianness } from 'node:os';
import type { NeighborTable } from './random-walk.ts';

/**
 * Binary file of a NeighborTable, for checkpoints and for handing the sampled graph to training runs.
 *
 *   bytes 0..7    magic `EDGENBR1` (ASCII)
 *   bytes 8..11   H: byte length of the JSON header, uint32 little-endian
 *   bytes 12..    the JSON header (UTF-8), padded with spaces so the data starts on an 8-byte boundary:
 *                 { "format": 1, "numItems", "topT", "meta": {...},
 *                   "arrays": { "<name>": { "dtype": "int32" | "float32", "offset", "length" } } }
 *                 for the arrays offsets, neighbors, weights, hardOffsets, hard; `offset` is in bytes from
 *                 the start of the file, `length` in elements
 *   then          each array's elements, little-endian, at its offset (4-byte aligned)
 *
 * `meta` is free-form JSON the caller stores with the table (the walk options and seed, say). A save writes
 * a temporary sibling and renames it over the target, so a crash mid-save keeps the previous file intact.
 */
const MAGIC = 'EDGENBR1';
const FORMAT = 1;
const ARRAYS = ['offsets', 'neighbors', 'weights', 'hardOffsets', 'hard'] as const;
type ArrayName = (typeof ARRAYS)[number];

interface ArrayEntry {
  dtype: 'int32' | 'float32';
  offset: number;
  length: number;
}

interface Header {
  format: number;
  numItems: number;
  topT: number;
  meta?: Record<string, unknown>;
  arrays: Record<ArrayName, ArrayEntry>;
}

const littleEndian = endianness() === 'LE';

/** The array's bytes in little-endian order (a copy with bytes swapped on a big-endian host). */
function leBytes(array: Int32Array | Float32Array): Uint8Array {
  const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
  if (littleEndian) return bytes;
  const out = new Uint8Array(bytes.length);
  for (let k = 0; k < bytes.length; k += 4) {
    out[k] = bytes[k + 3];
    out[k + 1] = bytes[k + 2];
    out[k + 2] = bytes[k + 1];
    out[k + 3] = bytes[k];
  }
  return out;
}

export function encodeNeighborTable(table: NeighborTable, meta?: Record<string, unknown>): Uint8Array {
  const arrays = {} as Record<ArrayName, ArrayEntry>;
  // Offsets depend on the header's length, which depends on the offsets: lay out relative to the data
  // start first, then fix the header size and shift.
  let relative = 0;
  for (const name of ARRAYS) {
    const array = table[name];
    arrays[name] = {
      dtype: array instanceof Float32Array ? 'float32' : 'int32',
      offset: relative,
      length: array.length,
    };
    relative += array.byteLength;
  }
  const headerFor = (dataStart: number): string => {
    const shifted = {} as Record<ArrayName, ArrayEntry>;
    for (const name of ARRAYS) shifted[name] = { ...arrays[name], offset: arrays[name].offset + dataStart };
    const header: Header = { format: FORMAT, numItems: table.numItems, topT: table.topT, arrays: shifted };
    if (meta !== undefined) header.meta = meta;
    return JSON.stringify(header);
  };
  // Grow the assumed data start until the header (padded) fits in front of it.
  let dataStart = 64;
  let json = headerFor(dataStart);
  while (12 + Buffer.byteLength(json) > dataStart) {
    dataStart = Math.ceil((12 + Buffer.byteLength(json) + 16) / 8) * 8;
    json = headerFor(dataStart);
  }
  const headerBytes = Buffer.from(json.padEnd(json.length + (dataStart - 12 - Buffer.byteLength(json)), ' '));
  const out = new Uint8Array(dataStart + relative);
  out.set(Buffer.from(MAGIC, 'ascii'), 0);
  new DataView(out.buffer).setUint32(8, headerBytes.length, true);
  out.set(headerBytes, 12);
  for (const name of ARRAYS) out.set(leBytes(table[name]), arrays[name].offset + dataStart);
  return out;
}

export function decodeNeighborTable(
  bytes: Uint8Array,
  source = 'neighbour table',
): { table: NeighborTable; meta?: Record<string, unknown> } {
  const fail = (why: string): never => {
    throw new Error(`${source}: ${why}`);
  };
  if (bytes.length < 12 || Buffer.from(bytes.subarray(0, 8)).toString('ascii') !== MAGIC)
    fail(`not a neighbour table (magic ${MAGIC} missing)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(8, true);
  if (12 + headerLength > bytes.length) fail('header runs past the end of the file');
  let header: Header;
  try {
    header = JSON.parse(Buffer.from(bytes.subarray(12, 12 + headerLength)).toString('utf8')) as Header;
  } catch (error) {
    return fail(`unreadable header (${(error as Error).message})`);
  }
  if (header.format !== FORMAT) fail(`unknown format ${header.format}`);
  const { numItems, topT } = header;
  if (!(Number.isInteger(numItems) && numItems >= 0)) fail(`bad numItems ${numItems}`);
  const read = <T extends Int32Array | Float32Array>(name: ArrayName, dtype: ArrayEntry['dtype']): T => {
    const entry = header.arrays?.[name];
    if (entry === undefined) return fail(`array "${name}" missing`);
    if (entry.dtype !== dtype) fail(`array "${name}" has dtype ${entry.dtype}, expected ${dtype}`);
    const { offset, length } = entry;
    if (!(Number.isInteger(offset) && Number.isInteger(length) && offset >= 12 + headerLength && length >= 0))
      fail(`array "${name}" has a bad layout`);
    if (offset + length * 4 > bytes.length) fail(`array "${name}" runs past the end of the file`);
    if (littleEndian) {
      // A copy, which also aligns the data (Buffer.slice would return a view into a shared pool).
      const copy = new Uint8Array(length * 4);
      copy.set(bytes.subarray(offset, offset + length * 4));
      return (dtype === 'int32' ? new Int32Array(copy.buffer) : new Float32Array(copy.buffer)) as T;
    }
    const out = dtype === 'int32' ? new Int32Array(length) : new Float32Array(length);
    for (let k = 0; k < length; k++)
      out[k] =
        dtype === 'int32' ? view.getInt32(offset + 4 * k, true) : view.getFloat32(offset + 4 * k, true);
    return out as T;
  };
  const table: NeighborTable = {
    numItems,
    topT,
    offsets: read<Int32Array>('offsets', 'int32'),
    neighbors: read<Int32Array>('neighbors', 'int32'),
    weights: read<Float32Array>('weights', 'float32'),
    hardOffsets: read<Int32Array>('hardOffsets', 'int32'),
    hard: read<Int32Array>('hard', 'int32'),
  };
  checkTable(table, fail);
  return header.meta === undefined ? { table } : { table, meta: header.meta };
}

function checkTable(table: NeighborTable, fail: (why: string) => never): void {
  const { numItems } = table;
  const csr = (offsets: Int32Array, values: Int32Array, name: string) => {
    if (offsets.length !== numItems + 1)
      fail(`${name} offsets hold ${offsets.length} entries, expected ${numItems + 1}`);
    if (offsets[0] !== 0 || offsets[numItems] !== values.length)
      fail(`${name} offsets do not span the ${name} array`);
    for (let i = 0; i < numItems; i++)
      if (offsets[i + 1] < offsets[i]) fail(`${name} offsets decrease at item ${i}`);
    for (const v of values)
      if (!(v >= 0 && v < numItems)) fail(`${name} hold item ${v}, outside [0, ${numItems})`);
  };
  csr(table.offsets, table.neighbors, 'neighbours');
  csr(table.hardOffsets, table.hard, 'hard negatives');
  if (table.weights.length !== table.neighbors.length) fail('weights and neighbours differ in length');
}

export function saveNeighborTable(path: string, table: NeighborTable, meta?: Record<string, unknown>): void {
  const temp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(temp, encodeNeighborTable(table, meta));
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

export function loadNeighborTable(path: string): { table: NeighborTable; meta?: Record<string, unknown> } {
  return decodeNeighborTable(readFileSync(path), path);
}
