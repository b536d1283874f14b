/**
 * Opens a bundle from wherever its files live (a folder over HTTP, a directory in Node, a cache) and hands
 * out its parts only after checking them against the manifest: no byte is used before its length and
 * SHA-256 match.
 */
import { InputError } from '../errors.ts';
import { BundleSourceError, VariantNotFoundError } from './errors.ts';
import { verifyFile } from './integrity.ts';
import type {
  BundleCatalog,
  BundleManifest,
  FileRef,
  Int8Form,
  ItemDtype,
  ItemTableEntry,
  ModelDtype,
  ModelEntry,
  ModelKind,
  ModelRole,
  RankerFusion,
} from './manifest.ts';
import { readStreamed } from './stream.ts';
import { describeVariant, ITEM_DTYPE_BYTES, parseCatalog, parseManifest } from './validate.ts';

export const MANIFEST_FILE = 'manifest.json';

/** Where a bundle's files come from; paths are relative to the folder holding `manifest.json`. */
export interface BundleSource {
  readText(path: string): Promise<string>;
  /** `onBytes`, when given and the source can, hears the bytes read so far while the file arrives. */
  readBytes(path: string, onBytes?: (loaded: number) => void): Promise<Uint8Array>;
  /**
   * Optional: the bytes of `ref`, which the source itself guarantees match its length and SHA-256 (a cache
   * that verified them already). `Bundle.file` then does not hash them a second time.
   */
  readVerified?(ref: FileRef): Promise<Uint8Array>;
  /** Where the files are, for messages (a URL, a directory). */
  describe(): string;
}

export { BundleSourceError, VariantNotFoundError };

/**
 * A bundle served over HTTP; `baseUrl` is the folder holding `manifest.json`, absolute or (in a page or
 * a worker) relative to the current location.
 */
export function httpBundleSource(baseUrl: string, fetchImpl?: typeof fetch): BundleSource {
  const base = folderUrl(baseUrl);
  // Called through globalThis, as browsers refuse a detached `fetch`.
  const doFetch =
    fetchImpl ?? ((input: RequestInfo | URL, init?: RequestInit) => globalThis.fetch(input, init));
  const get = async (path: string): Promise<Response> => {
    const url = new URL(path, base).href;
    // Manifest paths are validated, but a source must not be talked into reading outside its folder.
    if (!url.startsWith(base.href))
      throw new BundleSourceError(
        `${path}: outside the bundle at ${base.href}`,
        url,
        undefined,
        undefined,
        'BUNDLE_INVALID',
      );
    let response: Response;
    try {
      response = await doFetch(url);
    } catch (error) {
      throw new BundleSourceError(`could not fetch ${url}: ${(error as Error).message}`, url, undefined, {
        cause: error,
      });
    }
    if (!response.ok) {
      const status = `${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
      throw new BundleSourceError(`HTTP ${status} for ${url}`, url, response.status);
    }
    return response;
  };
  return {
    readText: async (path) => (await get(path)).text(),
    readBytes: async (path, onBytes) => {
      const response = await get(path);
      if (onBytes) return readStreamed(response, onBytes);
      return new Uint8Array(await response.arrayBuffer());
    },
    describe: () => base.href,
  };
}

function folderUrl(baseUrl: string): URL {
  const folder = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const page = (globalThis as { location?: { href: string } }).location?.href;
  try {
    return new URL(folder, page);
  } catch {
    throw new InputError(
      `bundle URL ${JSON.stringify(baseUrl)} is not a URL${page ? '' : ' (give an absolute one)'}`,
    );
  }
}

/** An item table as stored: `count × dim` values row-major, plus per-row scales for i8. */
export interface DecodedItemTable {
  dtype: ItemDtype;
  count: number;
  dim: number;
  /** f32: the values; f16: IEEE half-precision bit patterns; i8: quantized values. */
  values: Float32Array | Uint16Array | Int8Array;
  /** i8 only: value = int8 · scale of its row · scale of its column. */
  scales?: Float32Array;
  columnScales?: Float32Array;
}

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Decodes the little-endian bytes of an item table (and of its scales, for i8). */
export function decodeItemTableBytes(
  table: Pick<ItemTableEntry, 'dtype' | 'count' | 'dim' | 'columnScales'>,
  bytes: Uint8Array,
  scaleBytes?: Uint8Array,
): DecodedItemTable {
  const { dtype, count, dim } = table;
  const expected = count * dim * ITEM_DTYPE_BYTES[dtype];
  if (bytes.byteLength !== expected)
    throw new InputError(
      `${dtype} item table: expected ${expected} bytes for ${count} × ${dim}, got ${bytes.byteLength}`,
    );
  if (dtype === 'f32') return { dtype, count, dim, values: littleEndianFloat32(bytes) };
  if (dtype === 'f16') return { dtype, count, dim, values: littleEndianUint16(bytes) };
  if (!scaleBytes) throw new InputError('i8 item table: its per-row scales are missing');
  if (scaleBytes.byteLength !== count * 4)
    throw new InputError(
      `i8 item table: expected ${count * 4} bytes of scales, got ${scaleBytes.byteLength}`,
    );
  const values = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!table.columnScales || table.columnScales.length !== dim)
    throw new InputError(`i8 item table: expected ${dim} column scales`);
  return {
    dtype,
    count,
    dim,
    values,
    scales: littleEndianFloat32(scaleBytes),
    columnScales: Float32Array.from(table.columnScales),
  };
}

// Typed arrays read in the host's byte order and need an offset aligned to their element size: view the
// bytes in place when both hold, copy when only the alignment is off, and convert on a big-endian host.
function littleEndianFloat32(bytes: Uint8Array): Float32Array {
  if (!HOST_LITTLE_ENDIAN) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return Float32Array.from({ length: bytes.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true));
  }
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  return new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
}

function littleEndianUint16(bytes: Uint8Array): Uint16Array {
  if (!HOST_LITTLE_ENDIAN) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return Uint16Array.from({ length: bytes.byteLength / 2 }, (_, i) => view.getUint16(i * 2, true));
  }
  const aligned = bytes.byteOffset % 2 === 0 ? bytes : bytes.slice();
  return new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2);
}

/** An opened bundle: a validated manifest, and its files on demand, each verified as it is read. */
export class Bundle {
  private constructor(
    readonly source: BundleSource,
    readonly manifest: BundleManifest,
  ) {}

  /** Reads and validates `manifest.json`; throws a ManifestError naming the first problems. */
  static async open(source: BundleSource): Promise<Bundle> {
    return new Bundle(source, parseManifest(await source.readText(MANIFEST_FILE), MANIFEST_FILE));
  }

  /** The bytes of a file, after checking their length and SHA-256; throws an IntegrityError. */
  async file(ref: FileRef): Promise<Uint8Array> {
    if (this.source.readVerified) return this.source.readVerified(ref);
    const bytes = await this.source.readBytes(ref.file);
    await verifyFile(ref, bytes);
    return bytes;
  }

  async catalog(): Promise<BundleCatalog> {
    const ref = this.manifest.catalog;
    // fatal: a catalog that is not UTF-8 is reported, not silently patched with U+FFFD.
    const text = new TextDecoder('utf-8', { fatal: true }).decode(await this.file(ref));
    return parseCatalog(text, ref.count, ref.file);
  }

  async itemTable(dtype: ItemDtype): Promise<DecodedItemTable> {
    const table = this.manifest.items.find((t) => t.dtype === dtype);
    if (!table) {
      const present = this.manifest.items.map((t) => t.dtype).join(', ');
      throw new VariantNotFoundError(
        `bundle ${this.manifest.version} has no ${dtype} item table (it has ${present})`,
      );
    }
    const [bytes, scales] = await Promise.all([
      this.file(table),
      table.scales ? this.file(table.scales) : Promise.resolve(undefined),
    ]);
    return decodeItemTableBytes(table, bytes, scales);
  }

  /**
   * The one model of that kind, role, dtype (and int8 form); form may be left out when only one exists.
   * Rankers: of that fusion (late unless asked).
   */
  model(
    kind: ModelKind,
    role: ModelRole,
    dtype: ModelDtype,
    form?: Int8Form,
    fusion: RankerFusion = 'late',
  ): ModelEntry {
    const entries = kind === 'ranker' ? this.manifest.rankers : this.manifest.encoders;
    const matches = entries.filter(
      (e) =>
        e.role === role &&
        e.dtype === dtype &&
        (form === undefined || e.form === form) &&
        (kind !== 'ranker' || (e.fusion ?? 'late') === fusion),
    );
    if (matches.length === 1) return matches[0];
    const wanted = describeVariant({ kind, role, dtype, form, ...(kind === 'ranker' ? { fusion } : {}) });
    const bundle = `bundle ${this.manifest.version}`;
    if (matches.length === 0) {
      const present = entries.map(describeVariant).join(', ') || 'none';
      throw new VariantNotFoundError(`${bundle} has no ${wanted}; its ${kind}s: ${present}`);
    }
    const forms = matches.map((m) => m.form).join(', ');
    throw new VariantNotFoundError(
      `${bundle} has ${matches.length} ${wanted} models: choose a form (${forms})`,
    );
  }
}
