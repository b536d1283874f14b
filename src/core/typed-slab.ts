/**
 * Short-lived typed arrays as views into shared slabs instead of one ArrayBuffer each.
 *
 * Why: V8 frees the backing store of every dead ArrayBuffer one by one after a scavenge. A recommend()
 * made about 70 small typed arrays (query copies, heaps, feature rows, clustering scratch), so every ~40
 * calls the engine worker's scavenge spent 35–140 ms sweeping ArrayBuffers (a Chrome trace of
 * `npm run bench:browser -- --stages recommend --trace`, 2026-12-07), and those calls were the p99.
 * A view is an ordinary heap object that the scavenger frees for nothing; a slab is freed once its
 * last view is dead. Slab bytes are handed out once and never reused, so a view starts zeroed (as a new
 * typed array does) and can never be overwritten under its holder.
 *
 * A view's `.buffer` is the whole slab: never transfer one, post it (structured clone copies the slab)
 * or store it in IndexedDB — copy it to a plain array first. Hot paths only.
 */
/** Under PartitionAlloc's largest bucket (~960 KiB): a bigger slab would be mmap'd and unmapped each time. */
const SLAB_BYTES = 1 << 19;
/** Larger arrays get their own buffer: a slab would be mostly wasted, and they are few. */
const MAX_IN_SLAB = SLAB_BYTES / 8;
/** Every view starts on this boundary (Float64Array needs 8; 16 keeps SIMD-friendly rows aligned). */
const ALIGN = 16;

let slab = new ArrayBuffer(SLAB_BYTES);
let used = 0;

function take(bytes: number): [ArrayBuffer, number] {
  if (bytes > MAX_IN_SLAB) return [new ArrayBuffer(bytes), 0];
  const size = (bytes + ALIGN - 1) & ~(ALIGN - 1);
  if (used + size > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    used = 0;
  }
  const at = used;
  used += size;
  return [slab, at];
}

interface ViewConstructor<T> {
  readonly BYTES_PER_ELEMENT: number;
  new (buffer: ArrayBuffer, byteOffset: number, length: number): T;
}

function view<T>(type: ViewConstructor<T>, length: number): T {
  const [buffer, at] = take(length * type.BYTES_PER_ELEMENT);
  return new type(buffer, at, length);
}

/** A zeroed Float32Array of `length` (a slab view). */
export const slabF32 = (length: number): Float32Array => view(Float32Array, length);
/** A zeroed Float64Array of `length` (a slab view). */
export const slabF64 = (length: number): Float64Array => view(Float64Array, length);
/** A zeroed Int32Array of `length` (a slab view). */
export const slabI32 = (length: number): Int32Array => view(Int32Array, length);
/** A zeroed Uint32Array of `length` (a slab view). */
export const slabU32 = (length: number): Uint32Array => view(Uint32Array, length);
/** A zeroed Uint8Array of `length` (a slab view). */
export const slabU8 = (length: number): Uint8Array => view(Uint8Array, length);

/** A slab copy of `values`. */
export function slabCopyF32(values: ArrayLike<number>): Float32Array {
  const out = slabF32(values.length);
  out.set(values);
  return out;
}

/** A slab copy of `values`. */
export function slabCopyI32(values: ArrayLike<number>): Int32Array {
  const out = slabI32(values.length);
  out.set(values);
  return out;
}
