import { readFile, truncate, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Bundle,
  type BundleManifest,
  type BundleSource,
  BundleSourceError,
  decodeItemTableBytes,
  type FileRef,
  httpBundleSource,
  IntegrityError,
  ManifestError,
  sha256Hex,
  VariantNotFoundError,
  verifyFile,
} from '../../src/core/bundle/index.ts';
import { InputError } from '../../src/core/errors.ts';
import { decodeF16, decodeItemTable, encodeF16, quantizeTableI8 } from '../../src/core/quantize/index.ts';
import {
  FIXTURE_CATALOG,
  FIXTURE_COUNT,
  FIXTURE_DIM,
  FIXTURE_TABLE,
  FIXTURE_VERSION,
  nodeDirectorySource,
  type WrittenFixture,
  writeFixtureBundle,
} from '../shared/bundle-fixture.ts';

/** Every file the manifest names, with a label for test names. */
function fileRefs(manifest: BundleManifest): [string, FileRef][] {
  return [
    ...manifest.items.flatMap((t): [string, FileRef][] => [
      [`items ${t.dtype}`, t],
      ...(t.scales ? [[`items ${t.dtype} scales`, t.scales] as [string, FileRef]] : []),
    ]),
    ['catalog', manifest.catalog],
    ...manifest.rankers.map((m, i): [string, FileRef] => [`rankers[${i}]`, m]),
    ...manifest.encoders.map((m, i): [string, FileRef] => [`encoders[${i}]`, m]),
  ];
}

let fixture: WrittenFixture;
let bundle: Bundle;
const temporary: WrittenFixture[] = [];

/** A fresh copy of the fixture on disk, for tests that damage it. */
async function scratch(): Promise<WrittenFixture> {
  const copy = await writeFixtureBundle();
  temporary.push(copy);
  return copy;
}

beforeAll(async () => {
  fixture = await writeFixtureBundle();
  bundle = await Bundle.open(fixture.source);
});

afterAll(async () => {
  await Promise.all([fixture, ...temporary].map((f) => f.remove()));
});

describe('Bundle', () => {
  it('opens the fixture bundle from a directory and validates its manifest', () => {
    expect(bundle.manifest).toEqual(fixture.manifest);
    expect(bundle.manifest.version).toBe(FIXTURE_VERSION);
  });

  it('writes every file with the length and sha256 its manifest entry states', async () => {
    const refs = fileRefs(fixture.manifest);
    expect(refs).toHaveLength(9);
    for (const [, ref] of refs) {
      const bytes = new Uint8Array(await readFile(fixture.path(ref.file)));
      expect(bytes.byteLength).toBe(ref.bytes);
      expect(await sha256Hex(bytes)).toBe(ref.sha256);
      // Content-addressed: the name carries the start of the hash.
      expect(ref.file).toContain(ref.sha256.slice(0, 12));
      await expect(bundle.file(ref)).resolves.toEqual(bytes);
    }
  });

  it('decodes the item table in every dtype', async () => {
    const f32 = await bundle.itemTable('f32');
    expect(f32).toMatchObject({ dtype: 'f32', count: FIXTURE_COUNT, dim: FIXTURE_DIM });
    expect(f32.values).toEqual(FIXTURE_TABLE);
    expect(decodeItemTable(f32)).toEqual(FIXTURE_TABLE);

    const f16 = await bundle.itemTable('f16');
    expect(f16.values).toEqual(encodeF16(FIXTURE_TABLE));
    expect(decodeItemTable(f16)).toEqual(decodeF16(encodeF16(FIXTURE_TABLE)));

    const i8 = await bundle.itemTable('i8');
    const quantized = quantizeTableI8(FIXTURE_TABLE, FIXTURE_DIM);
    expect(i8.values).toEqual(quantized.values);
    expect(i8.scales).toEqual(quantized.scales);
    const decoded = decodeItemTable(i8);
    for (let i = 0; i < FIXTURE_TABLE.length; i++)
      expect(Math.abs(decoded[i] - FIXTURE_TABLE[i])).toBeLessThanOrEqual(2.5 / 254 + 1e-7);
  });

  it('reads the catalog, verified and validated', async () => {
    expect(await bundle.catalog()).toEqual(FIXTURE_CATALOG);
  });

  it('decodes bytes that sit at an odd offset of their buffer', async () => {
    // A cache or a network layer may hand out a view into a larger buffer; typed arrays need alignment.
    const unaligned: BundleSource = {
      ...fixture.source,
      readBytes: async (path) => {
        const bytes = await fixture.source.readBytes(path);
        const padded = new Uint8Array(bytes.byteLength + 1);
        padded.set(bytes, 1);
        return padded.subarray(1);
      },
    };
    const shifted = await Bundle.open(unaligned);
    expect((await shifted.itemTable('f32')).values).toEqual(FIXTURE_TABLE);
    expect((await shifted.itemTable('f16')).values).toEqual(encodeF16(FIXTURE_TABLE));
    expect((await shifted.itemTable('i8')).scales).toEqual(
      quantizeTableI8(FIXTURE_TABLE, FIXTURE_DIM).scales,
    );
  });

  it('refuses bytes of the wrong size when decoding directly', () => {
    expect(() => decodeItemTableBytes({ dtype: 'f16', count: 2, dim: 3 }, new Uint8Array(11))).toThrow(
      'f16 item table: expected 12 bytes for 2 × 3, got 11',
    );
    expect(() => decodeItemTableBytes({ dtype: 'i8', count: 2, dim: 3 }, new Uint8Array(6))).toThrow(
      'i8 item table: its per-row scales are missing',
    );
  });

  it('says which item tables exist when asked for a missing one', async () => {
    const partial = await writeFixtureBundle({ itemDtypes: ['f32', 'i8'] });
    temporary.push(partial);
    const opened = await Bundle.open(partial.source);
    await expect(opened.itemTable('f16')).rejects.toThrow(VariantNotFoundError);
    await expect(opened.itemTable('f16')).rejects.toThrow(
      `bundle ${FIXTURE_VERSION} has no f16 item table (it has f32, i8)`,
    );
  });

  it('finds models by kind, role, dtype and form, and lists what exists otherwise', () => {
    expect(bundle.model('ranker', 'teacher', 'fp32')).toBe(bundle.manifest.rankers[0]);
    expect(bundle.model('ranker', 'student', 'int8', 'qdq')).toBe(bundle.manifest.rankers[2]);
    expect(bundle.model('encoder', 'student', 'fp32')).toBe(bundle.manifest.encoders[0]);
    expect(() => bundle.model('ranker', 'student', 'int8')).toThrow(
      `bundle ${FIXTURE_VERSION} has 2 ranker student int8 models: choose a form (dq, qdq)`,
    );
    expect(() => bundle.model('encoder', 'teacher', 'fp16')).toThrow(
      `bundle ${FIXTURE_VERSION} has no encoder teacher fp16; its encoders: encoder student fp32`,
    );
    expect(() => bundle.model('ranker', 'student', 'fp16')).toThrow(
      'its rankers: ranker teacher fp32, ranker student int8 (dq), ranker student int8 (qdq)',
    );
    expect(() => bundle.model('ranker', 'student', 'fp16')).toThrow(InputError);
  });
});

describe('Bundle integrity', () => {
  it('detects a flipped byte in every file and names the file', async () => {
    const copy = await scratch();
    const opened = await Bundle.open(copy.source);
    for (const [label, ref] of fileRefs(copy.manifest)) {
      const path = copy.path(ref.file);
      const original = await readFile(path);
      const damaged = Buffer.from(original);
      damaged[damaged.length >> 1] ^= 0x01;
      await writeFile(path, damaged);
      const error = await opened.file(ref).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, label).toBeInstanceOf(IntegrityError);
      expect((error as IntegrityError).file).toBe(ref.file);
      expect((error as IntegrityError).check).toBe('sha256');
      expect((error as IntegrityError).expected).toBe(ref.sha256);
      expect((error as Error).message).toMatch(
        new RegExp(
          `^${escapeRegExp(ref.file)}: sha256 mismatch \\(expected ${ref.sha256.slice(0, 12)}…, got [0-9a-f]{12}…\\) — the file is corrupt or was tampered with$`,
        ),
      );
      await writeFile(path, original);
    }
  });

  it('refuses a damaged item table, scales file or catalog through the high-level reads', async () => {
    const copy = await scratch();
    const opened = await Bundle.open(copy.source);
    const [f32, , i8] = copy.manifest.items;
    const flip = async (ref: FileRef) => {
      const bytes = await readFile(copy.path(ref.file));
      bytes[0] ^= 0x80;
      await writeFile(copy.path(ref.file), bytes);
    };
    await flip(f32);
    await expect(opened.itemTable('f32')).rejects.toThrow(`${f32.file}: sha256 mismatch`);
    await flip(i8.scales!);
    await expect(opened.itemTable('i8')).rejects.toThrow(`${i8.scales!.file}: sha256 mismatch`);
    await flip(copy.manifest.catalog);
    await expect(opened.catalog()).rejects.toThrow(IntegrityError);
  });

  it('reports a truncated file by its length before hashing it', async () => {
    const copy = await scratch();
    const opened = await Bundle.open(copy.source);
    const table = copy.manifest.items[1];
    await truncate(copy.path(table.file), table.bytes - 1);
    await expect(opened.itemTable('f16')).rejects.toThrow(
      `${table.file}: expected ${table.bytes} bytes, got ${table.bytes - 1}`,
    );
    await expect(opened.file(table)).rejects.toMatchObject({
      name: 'IntegrityError',
      check: 'bytes',
      expected: table.bytes,
      actual: table.bytes - 1,
    });
  });

  it('verifyFile accepts the right bytes and refuses one appended byte', async () => {
    const bytes = new TextEncoder().encode('abc');
    const ref = { file: 'x.txt', bytes: 3, sha256: await sha256Hex(bytes) };
    // The SHA-256 of "abc" from FIPS 180-2.
    expect(ref.sha256).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    await expect(verifyFile(ref, bytes)).resolves.toBeUndefined();
    await expect(verifyFile(ref, new TextEncoder().encode('abcd'))).rejects.toThrow(
      'x.txt: expected 3 bytes, got 4',
    );
  });
});

describe('Bundle.open on a bad bundle', () => {
  it('reports a manifest that fails validation by its path', async () => {
    const copy = await scratch();
    const manifest = structuredClone(copy.manifest) as unknown as Record<string, unknown>;
    (manifest.rankers as Record<string, unknown>[])[2].foo = 'bar';
    await writeFile(copy.path('manifest.json'), JSON.stringify(manifest));
    await expect(Bundle.open(copy.source)).rejects.toThrow(ManifestError);
    await expect(Bundle.open(copy.source)).rejects.toThrow('manifest.json: rankers[2]: unknown field "foo"');
  });

  it('refuses a manifest whose file path leaves the bundle folder', async () => {
    const copy = await scratch();
    const manifest = structuredClone(copy.manifest);
    manifest.catalog.file = '../outside.json';
    await writeFile(copy.path('manifest.json'), JSON.stringify(manifest));
    await expect(Bundle.open(copy.source)).rejects.toThrow(
      /^manifest\.json: catalog\.file: must be a relative path inside the bundle folder/,
    );
  });

  it('reports a missing manifest.json and refuses paths outside the directory', async () => {
    const empty = nodeDirectorySource(`${fixture.dir}/items`);
    await expect(Bundle.open(empty)).rejects.toThrow(BundleSourceError);
    await expect(Bundle.open(empty)).rejects.toThrow(/manifest\.json: no such file$/);
    await expect(fixture.source.readBytes('../secret')).rejects.toThrow(/outside the bundle/);
  });
});

describe('httpBundleSource (fetch is faked at the network boundary)', () => {
  const base = 'https://cdn.example.test/models/fixture-1/';

  /** A fake fetch serving the fixture's files from disk, and 404 for anything else. */
  function servingFixture(requests: string[] = []): typeof fetch {
    return async (input) => {
      const url = String(input);
      requests.push(url);
      const path = url.startsWith(base) ? url.slice(base.length) : undefined;
      const bytes = path === undefined ? undefined : fixture.files.get(path);
      if (!bytes) return new Response('not found', { status: 404, statusText: 'Not Found' });
      return new Response(new Uint8Array(bytes), { status: 200 });
    };
  }

  it('opens the bundle and reads verified files over HTTP', async () => {
    const requests: string[] = [];
    const opened = await Bundle.open(httpBundleSource(base, servingFixture(requests)));
    expect(opened.manifest).toEqual(fixture.manifest);
    expect((await opened.itemTable('i8')).values).toEqual(quantizeTableI8(FIXTURE_TABLE, FIXTURE_DIM).values);
    expect(await opened.catalog()).toEqual(FIXTURE_CATALOG);
    const i8 = fixture.manifest.items[2];
    expect(requests).toEqual([
      `${base}manifest.json`,
      `${base}${i8.file}`,
      `${base}${i8.scales!.file}`,
      `${base}${fixture.manifest.catalog.file}`,
    ]);
  });

  it('treats the base URL as a folder with or without its trailing slash', async () => {
    const source = httpBundleSource(base.slice(0, -1), servingFixture());
    expect(source.describe()).toBe(base);
    await expect(Bundle.open(source)).resolves.toBeInstanceOf(Bundle);
  });

  it('reports a 404 with its status and URL', async () => {
    const source = httpBundleSource('https://cdn.example.test/models/missing/', servingFixture());
    const error = await Bundle.open(source).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BundleSourceError);
    expect((error as BundleSourceError).status).toBe(404);
    expect((error as Error).message).toBe(
      'HTTP 404 Not Found for https://cdn.example.test/models/missing/manifest.json',
    );
  });

  it('reports a network failure with the URL and keeps the cause', async () => {
    const cause = new TypeError('fetch failed');
    const source = httpBundleSource(base, async () => {
      throw cause;
    });
    await expect(source.readBytes('catalog.json')).rejects.toMatchObject({
      message: `could not fetch ${base}catalog.json: fetch failed`,
      cause,
    });
  });

  it('refuses a relative base URL where there is no page to resolve it against, and paths outside', async () => {
    expect(() => httpBundleSource('/models/v1/')).toThrow(InputError);
    expect(() => httpBundleSource('/models/v1/')).toThrow(
      'bundle URL "/models/v1/" is not a URL (give an absolute one)',
    );
    await expect(httpBundleSource(base, servingFixture()).readText('../other/manifest.json')).rejects.toThrow(
      `../other/manifest.json: outside the bundle at ${base}`,
    );
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
