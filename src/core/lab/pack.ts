/**
 * The evaluation pack of the quantization lab: what a browser needs to score a bundle's variants on a
 * held-out window without the training data. For one split (`valid` = the temporal protocol's validation
 * window, `test` = its test window) it holds N users' encoder inputs (their newest actions before the
 * window) with their ground-truth items (first engagements inside it), and ranker examples of the window
 * (the indices and embeddings their feature tensors are made of, and the per-head labels).
 *
 * File layout (`<bundle>/lab/<split>.bin`, little-endian):
 *   bytes 0–7    magic "EDGELAB\0"
 *   bytes 8–11   u32 length H of the JSON header
 *   bytes 12…    the JSON header ({ format, …meta, sections: [{ name, dtype, length, offset }] })
 *   then         each section at its `offset` (from the start of the file, 8-byte aligned)
 * `lab/index.json` lists the packs of the bundle with their sha256; it is not part of the bundle manifest.
 */
import { InputError } from '../errors.ts';

export const LAB_PACK_FORMAT = 1;
export const LAB_INDEX_FILE = 'lab/index.json';
export const LAB_SPLITS = ['valid', 'test'] as const;
export type LabSplit = (typeof LAB_SPLITS)[number];

const MAGIC = 'EDGELAB\0';

export interface EvalPackMeta {
  format: typeof LAB_PACK_FORMAT;
  /** The bundle version the pack was built against (its item indices and embeddings). */
  bundle: string;
  split: LabSplit;
  dim: number;
  /** The compact encoder's input length (newest actions kept per user). */
  encoderLength: number;
  contextDim: number;
  heads: string[];
  /** [from, to) of the window, ms since the epoch. */
  window: { from: number; to: number };
  /** Seed of the user and session sampling. */
  seed: number;
  /** Evaluable users and examples in the window before the caps. */
  available: { users: number; examples: number };
  created: string;
}

export interface EvalPack extends EvalPackMeta {
  /** Dataset user index of each pack user. */
  users: Int32Array;
  /** Per pack user, their newest `encoderLength` actions before the window, oldest first. */
  windows: { offsets: Int32Array; items: Int32Array; actions: Uint8Array; ts: Float64Array };
  /** Per pack user, their ground-truth items in the window (first engagements). */
  targets: { offsets: Int32Array; items: Int32Array };
  examples: {
    size: number;
    /** Row of `userLong`. */
    user: Int32Array;
    /** Row of `userShort` (one per session). */
    session: Int32Array;
    /** Item index (row of the bundle's item tables). */
    item: Int32Array;
    /** [size × contextDim] */
    context: Float32Array;
    /** [size × heads] 0/1 */
    labels: Uint8Array;
  };
  /** Long-term (PinnerFormer) embeddings as of the window start, [rows × dim]. */
  userLong: Float32Array;
  /** Short-term (compact encoder, fp32) embedding at each session's start, [sessions × dim]. */
  userShort: Float32Array;
}

export interface LabIndexEntry {
  file: string;
  bytes: number;
  sha256: string;
  users: number;
  examples: number;
  seed: number;
  maxUsers: number;
  maxExamples: number;
  created: string;
}

export interface LabIndex {
  format: typeof LAB_PACK_FORMAT;
  bundle: string;
  packs: Partial<Record<LabSplit, LabIndexEntry>>;
}

type Typed = Int32Array | Uint8Array | Float32Array | Float64Array;
const DTYPES = {
  i32: Int32Array,
  u8: Uint8Array,
  f32: Float32Array,
  f64: Float64Array,
} as const;
type SectionDtype = keyof typeof DTYPES;

interface Section {
  name: string;
  dtype: SectionDtype;
  length: number;
  offset: number;
}

function sectionsOf(pack: EvalPack): [string, SectionDtype, Typed][] {
  return [
    ['users', 'i32', pack.users],
    ['windows.offsets', 'i32', pack.windows.offsets],
    ['windows.items', 'i32', pack.windows.items],
    ['windows.actions', 'u8', pack.windows.actions],
    ['windows.ts', 'f64', pack.windows.ts],
    ['targets.offsets', 'i32', pack.targets.offsets],
    ['targets.items', 'i32', pack.targets.items],
    ['examples.user', 'i32', pack.examples.user],
    ['examples.session', 'i32', pack.examples.session],
    ['examples.item', 'i32', pack.examples.item],
    ['examples.context', 'f32', pack.examples.context],
    ['examples.labels', 'u8', pack.examples.labels],
    ['userLong', 'f32', pack.userLong],
    ['userShort', 'f32', pack.userShort],
  ];
}

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const align8 = (n: number) => Math.ceil(n / 8) * 8;

export function metaOf(pack: EvalPack): EvalPackMeta {
  const { format, bundle, split, dim, encoderLength, contextDim, heads, window, seed, available, created } =
    pack;
  return { format, bundle, split, dim, encoderLength, contextDim, heads, window, seed, available, created };
}

/** Serialises a pack (see the layout above). */
export function encodeEvalPack(pack: EvalPack): Uint8Array {
  if (!HOST_LITTLE_ENDIAN) throw new Error('eval packs are written on little-endian hosts only');
  const parts = sectionsOf(pack);
  // The header's length depends on the offsets it lists: lay out twice, the second time with room to spare.
  const layout = (start: number): Section[] => {
    let offset = align8(start);
    return parts.map(([name, dtype, data]) => {
      const section = { name, dtype, length: data.length, offset };
      offset = align8(offset + data.byteLength);
      return section;
    });
  };
  const headerOf = (sections: Section[]) =>
    new TextEncoder().encode(JSON.stringify({ ...metaOf(pack), sections }));
  let header = headerOf(layout(12 + 4096));
  const reserve = align8(12 + header.length + 64);
  header = headerOf(layout(reserve));
  if (12 + header.length > reserve) throw new Error('eval pack header outgrew its room');
  const sections = layout(reserve);
  const last = sections[sections.length - 1];
  const total = last.offset + parts[parts.length - 1][2].byteLength;
  const out = new Uint8Array(total);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(8, header.length, true);
  out.set(header, 12);
  sections.forEach((s, i) => {
    const data = parts[i][2];
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), s.offset);
  });
  return out;
}

/** Parses a pack, checking its magic, format and that every section lies inside the file. */
export function decodeEvalPack(bytes: Uint8Array, name = 'eval pack'): EvalPack {
  const fail = (why: string): never => {
    throw new InputError(`${name}: ${why}`);
  };
  if (bytes.byteLength < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC)
    fail('not an edgerec eval pack (bad magic)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(8, true);
  if (12 + headerLength > bytes.byteLength) fail('truncated header');
  let header: EvalPackMeta & { sections: Section[] };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLength)));
  } catch {
    return fail('the header is not JSON');
  }
  if (header.format !== LAB_PACK_FORMAT)
    fail(`format ${header.format}, this build reads format ${LAB_PACK_FORMAT} (rebuild: edgerec lab pack)`);
  const sections = new Map<string, Typed>();
  for (const s of header.sections) {
    const Ctor = DTYPES[s.dtype];
    if (!Ctor) fail(`section ${s.name}: unknown dtype ${s.dtype}`);
    const byteLength = s.length * Ctor.BYTES_PER_ELEMENT;
    if (s.offset < 0 || s.offset + byteLength > bytes.byteLength)
      fail(`section ${s.name} lies outside the file`);
    // Copy: the typed arrays must be aligned and must not pin the download's buffer.
    const copy = bytes.slice(s.offset, s.offset + byteLength);
    sections.set(s.name, new Ctor(copy.buffer, 0, s.length));
  }
  const get = <T extends Typed>(key: string): T => {
    const found = sections.get(key);
    if (!found) fail(`section ${key} is missing`);
    return found as T;
  };
  const { sections: _sections, ...meta } = header;
  const pack: EvalPack = {
    ...meta,
    users: get('users'),
    windows: {
      offsets: get('windows.offsets'),
      items: get('windows.items'),
      actions: get('windows.actions'),
      ts: get('windows.ts'),
    },
    targets: { offsets: get('targets.offsets'), items: get('targets.items') },
    examples: {
      size: get('examples.item').length,
      user: get('examples.user'),
      session: get('examples.session'),
      item: get('examples.item'),
      context: get('examples.context'),
      labels: get('examples.labels'),
    },
    userLong: get('userLong'),
    userShort: get('userShort'),
  };
  const users = pack.users.length;
  if (pack.windows.offsets.length !== users + 1 || pack.targets.offsets.length !== users + 1)
    fail('window or target offsets do not match the users');
  const n = pack.examples.size;
  if (
    pack.examples.user.length !== n ||
    pack.examples.session.length !== n ||
    pack.examples.context.length !== n * pack.contextDim ||
    pack.examples.labels.length !== n * pack.heads.length
  )
    fail('example sections differ in length');
  return pack;
}

/** Validates `lab/index.json`. */
export function parseLabIndex(text: string, name = LAB_INDEX_FILE): LabIndex {
  let json: LabIndex;
  try {
    json = JSON.parse(text);
  } catch {
    throw new InputError(`${name}: not JSON`);
  }
  if (json?.format !== LAB_PACK_FORMAT)
    throw new InputError(`${name}: format ${json?.format}, expected ${LAB_PACK_FORMAT}`);
  if (typeof json.bundle !== 'string' || typeof json.packs !== 'object' || json.packs === null)
    throw new InputError(`${name}: expected { format, bundle, packs }`);
  return json;
}

/** The window (action arrays and bounds) of pack user `u`, for `encoderInput`. */
export function packWindow(pack: EvalPack, u: number) {
  const { offsets, items, actions, ts } = pack.windows;
  const start = offsets[u];
  const end = offsets[u + 1];
  return {
    items: items.subarray(start, end),
    actions: actions.subarray(start, end),
    ts: ts.subarray(start, end),
  };
}

export function packTargets(pack: EvalPack, u: number): Int32Array {
  return pack.targets.items.subarray(pack.targets.offsets[u], pack.targets.offsets[u + 1]);
}
