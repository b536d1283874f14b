import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bundle, IntegrityError, ManifestError } from '../../src/core/bundle/index.ts';
import { nodeDirectorySource } from '../shared/bundle-fixture.ts';

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '../../bin/edgerec.mjs');
const work = mkdtempSync(join(tmpdir(), 'edgerec-bundle-'));
const edgerec = (...args: string[]) => run(process.execPath, [BIN, ...args], { maxBuffer: 1 << 26 });
const runDir = join(work, 'run');
const models = join(work, 'models');
let report: {
  version: string;
  dir: string;
  variants: {
    kind: string;
    role: string;
    dtype: string;
    form?: string;
    file: string;
    bytes: number;
    sha256: string;
    fusion?: string;
    metrics: Record<string, number>;
  }[];
};

beforeAll(async () => {
  await edgerec(
    'data',
    'gen',
    '--out',
    join(work, 'data'),
    '--users',
    '200',
    '--items',
    '500',
    '--events',
    '20000',
    '--seed',
    '5',
    '--quiet',
  );
  await edgerec(
    'train',
    '--data',
    join(work, 'data', 'events.jsonl'),
    '--format',
    'events',
    '--out',
    runDir,
    '--protocol',
    'temporal',
    '--max-epochs',
    '1',
    '--quiet',
  );
  const { stdout } = await edgerec(
    'bundle',
    '--checkpoint',
    runDir,
    '--out',
    models,
    '--max-epochs',
    '2',
    '--json',
    '--quiet',
  );
  const lines = stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  report = JSON.parse(lines[0]);
}, 240_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('edgerec bundle --json', () => {
  it('reports every variant with its file, size, hash and test metrics', () => {
    const kinds = report.variants.map((v) => `${v.kind}:${v.role}:${v.dtype}${v.form ? `-${v.form}` : ''}`);
    expect(kinds.filter((k) => k.startsWith('items:'))).toEqual(['items:-:f32', 'items:-:f16', 'items:-:i8']);
    // Teacher and student, late and early fusion, four dtypes/forms each.
    expect(kinds.filter((k) => k.startsWith('ranker:'))).toHaveLength(16);
    expect(report.variants.filter((v) => v.fusion === 'early')).toHaveLength(8);
    expect(kinds.filter((k) => k.startsWith('encoder:'))).toHaveLength(4);
    for (const v of report.variants) {
      expect(v.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(v.file).toContain(v.sha256.slice(0, 12));
      expect(Object.keys(v.metrics).length).toBeGreaterThan(0);
      if (v.kind === 'ranker')
        expect(Object.keys(v.metrics)).toEqual(
          expect.arrayContaining(['AUC.click', 'AUC.save', 'AUC.hide', 'UtilityNDCG@10']),
        );
      if (v.kind !== 'ranker') expect(v.metrics['HR@10']).toBeGreaterThanOrEqual(0);
    }
    const bytes = (dtype: string) =>
      report.variants.find((v) => v.kind === 'items' && v.dtype === dtype)!.bytes;
    expect(bytes('f32') / bytes('i8')).toBe(4);
  });

  it("serves the run's chosen retrieval space: the manifest records the choice, the f32 table is its table", async () => {
    const bundle = await Bundle.open(nodeDirectorySource(report.dir));
    const trained = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8'));
    expect(bundle.manifest.retrieval).toEqual(trained.retrieval);
    const { model, validation } = trained.retrieval;
    expect(Object.keys(validation).sort()).toEqual(['blend', 'lightgcn', 'pinnerformer']);
    const table = readFileSync(join(runDir, model, 'items.f32'));
    const f32 = bundle.manifest.items.find((t) => t.dtype === 'f32')!;
    expect(f32.sha256).toBe(createHash('sha256').update(table).digest('hex'));
  });

  it('writes a manifest the loader opens, and every file verifies', async () => {
    const bundle = await Bundle.open(nodeDirectorySource(report.dir));
    expect(bundle.manifest.version).toBe(report.version);
    expect(JSON.parse(readFileSync(join(models, 'latest.json'), 'utf8')).version).toBe(report.version);
    for (const entry of [...bundle.manifest.rankers, ...bundle.manifest.encoders]) await bundle.file(entry);
    const i8 = await bundle.itemTable('i8');
    expect(i8.columnScales).toHaveLength(bundle.manifest.dim);
    expect((await bundle.catalog()).ids).toHaveLength(bundle.manifest.catalog.count);
  });

  it('refuses a tampered file and a manifest with a missing or an extra field', async () => {
    const copy = join(work, 'tampered');
    cpSync(report.dir, copy, { recursive: true });
    const bundle = await Bundle.open(nodeDirectorySource(copy));
    const ranker = bundle.manifest.rankers[0];
    const bytes = readFileSync(join(copy, ranker.file));
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(join(copy, ranker.file), bytes);
    await expect(bundle.file(ranker)).rejects.toThrow(IntegrityError);
    await expect(bundle.file(ranker)).rejects.toThrow(/sha256 mismatch/);

    const manifest = JSON.parse(readFileSync(join(copy, 'manifest.json'), 'utf8'));
    writeFileSync(join(copy, 'manifest.json'), JSON.stringify({ ...manifest, surprise: 1 }));
    await expect(Bundle.open(nodeDirectorySource(copy))).rejects.toThrow(/unknown field "surprise"/);
    delete manifest.encoders[0].sha256;
    writeFileSync(join(copy, 'manifest.json'), JSON.stringify(manifest));
    await expect(Bundle.open(nodeDirectorySource(copy))).rejects.toThrow(ManifestError);
    await expect(Bundle.open(nodeDirectorySource(copy))).rejects.toThrow(
      /encoders\[0\]: missing field "sha256"/,
    );
  });

  it('--if-missing leaves an existing bundle alone', async () => {
    const { stdout } = await edgerec('bundle', '--out', models, '--if-missing', '--json', '--quiet');
    expect(JSON.parse(stdout)).toMatchObject({ version: report.version, skipped: true });
  });

  /** Bundles a copy of the run whose run.json has `edit` applied; returns the refusal's code and stderr. */
  async function bundleEditedRun(name: string, edit: Record<string, unknown>) {
    const other = join(work, name);
    cpSync(runDir, other, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(other, 'run.json'), 'utf8'));
    writeFileSync(join(other, 'run.json'), JSON.stringify({ ...manifest, ...edit }));
    const failure = await edgerec(
      'bundle',
      '--checkpoint',
      other,
      '--out',
      join(work, `${name}-models`),
      '--quiet',
    )
      .then(() => ({ code: 0, stderr: '' }))
      .catch((e: { code: number; stderr: string }) => e);
    expect(failure.code).toBe(2);
    expect(failure.stderr.trim().split('\n')).toHaveLength(1);
    return failure.stderr;
  }

  it('refuses a run trained under another protocol, with exit code 2 and one line', async () => {
    expect(await bundleEditedRun('run-sasrec', { protocol: 'sasrec' })).toMatch(/needs --protocol temporal/);
  });

  it('refuses a run whose PinnerFormer was refit on the validation window (run.json edited: the refusal reads only it)', async () => {
    expect(await bundleEditedRun('run-refit', { refit: true })).toMatch(
      /refit on the validation window \(edgerec train --refit\)/,
    );
  });
});
