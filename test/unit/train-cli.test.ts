import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '../../bin/edgerec.mjs');
const work = mkdtempSync(join(tmpdir(), 'edgerec-train-'));
const events = join(work, 'data', 'events.jsonl');

const edgerec = (...args: string[]) => run(process.execPath, [BIN, ...args], { maxBuffer: 1 << 26 });
const trainArgs = (out: string) => [
  'train',
  '--data',
  events,
  '--format',
  'events',
  '--out',
  out,
  '--max-epochs',
  '3',
  '--seed',
  '2',
  '--quiet',
];

/** `edgerec eval` on the same data, with the rest of its arguments. */
const evalOn = (...args: string[]) => edgerec('eval', '--data', events, '--format', 'events', ...args);

async function waitFor(path: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const started = Date.now();
  while (!existsSync(path)) {
    if (child.exitCode !== null)
      throw new Error(`training exited (${child.exitCode}) before ${path} appeared`);
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${path}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

beforeAll(async () => {
  await edgerec(
    'data',
    'gen',
    '--out',
    join(work, 'data'),
    '--users',
    '150',
    '--items',
    '400',
    '--events',
    '12000',
    '--seed',
    '5',
    '--quiet',
  );
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('edgerec train', () => {
  it('writes the documented tables, and a run killed with SIGKILL resumes to byte-identical results', async () => {
    const straight = join(work, 'straight');
    const { stdout } = await edgerec(...trainArgs(straight), '--json');
    const manifest = JSON.parse(stdout);
    expect(manifest.tables['gnn/items.f32']).toEqual([400, 64]);
    expect(manifest.tables['pinnerformer/items.f32']).toEqual([400, 64]);
    expect(manifest.tables['pinnerformer/users.f32']).toEqual([150, 64]);
    expect(readFileSync(join(straight, 'pinnerformer', 'users.f32')).byteLength).toBe(150 * 64 * 4);
    // LightGCN trains by default too; the retrieval space is the validation winner, both scores recorded.
    expect(manifest.models).toEqual(['gnn', 'pinnerformer', 'lightgcn']);
    expect(manifest.tables['lightgcn/items.f32']).toEqual([400, 64]);
    expect(manifest.tables['lightgcn/fold-in.f32']).toEqual([400, 64]);
    const { validation, model, chosenBy, metric, blend } = manifest.retrieval;
    expect(chosenBy).toBe('validation');
    expect(metric).toBe('NDCG@10');
    // The blend of the two is the third candidate: its row is its best weight's, its table twice as wide.
    expect(blend.grid.map((row: { weight: number }) => row.weight)).toEqual([0.1, 0.25, 0.5, 0.75, 0.9]);
    expect(validation.blend).toBe(Math.max(...blend.grid.map((row: { score: number }) => row.score)));
    expect(blend.scales.pinnerformer).toBeGreaterThan(0);
    expect(blend.scales.lightgcn).toBeGreaterThan(0);
    expect(manifest.tables['blend/items.f32']).toEqual([400, 128]);
    const ranked = Object.entries(validation as Record<string, number>).sort((a, b) => b[1] - a[1]);
    expect(model).toBe(ranked[0][0]);

    const killed = join(work, 'killed');
    const child = spawn(process.execPath, [BIN, ...trainArgs(killed)], { stdio: 'ignore' });
    // The PinnerFormer checkpoint appears at its first epoch end: the GNN is done, PinnerFormer is mid-way.
    await waitFor(join(killed, 'pinnerformer', 'checkpoint', 'state.json'), child, 120_000);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    expect(existsSync(join(killed, 'pinnerformer', 'model', 'state.json'))).toBe(false);
    await edgerec(...trainArgs(killed));

    for (const table of [
      'gnn/items.f32',
      'lightgcn/items.f32',
      'lightgcn/fold-in.f32',
      'pinnerformer/items.f32',
      'pinnerformer/users.f32',
      'blend/items.f32',
    ]) {
      expect(readFileSync(join(killed, table)).equals(readFileSync(join(straight, table)))).toBe(true);
    }
    const resumed = JSON.parse(readFileSync(join(killed, 'run.json'), 'utf8'));
    expect(resumed.stages.pinnerformer.bestEpoch).toBe(manifest.stages.pinnerformer.bestEpoch);
    expect(resumed.retrieval).toEqual(manifest.retrieval);
  }, 300_000);

  it('LightGCN on a second thread (the default) and --serial write byte-identical tables', async () => {
    const straight = join(work, 'straight');
    expect(existsSync(join(straight, 'run.json'))).toBe(true);
    const serial = join(work, 'serial');
    const manifest = JSON.parse((await edgerec(...trainArgs(serial), '--serial', '--json')).stdout);
    const threaded = JSON.parse(readFileSync(join(straight, 'run.json'), 'utf8'));
    for (const table of Object.keys(threaded.tables))
      expect(readFileSync(join(serial, table)).equals(readFileSync(join(straight, table))), table).toBe(true);
    expect(manifest.tables).toEqual(threaded.tables);
    expect(manifest.stages.lightgcn.bestEpoch).toBe(threaded.stages.lightgcn.bestEpoch);
    expect(manifest.stages.lightgcn.options).toEqual(threaded.stages.lightgcn.options);
    expect(manifest.retrieval).toEqual(threaded.retrieval);
  }, 300_000);

  it('--refit publishes PinnerFormer, LightGCN and the GNN table PinnerFormer reads refit on training + validation events for the epochs validation chose, the same on one thread, and resumes after SIGKILL', async () => {
    const straight = join(work, 'straight');
    const plain = JSON.parse(readFileSync(join(straight, 'run.json'), 'utf8'));
    const refitDir = join(work, 'refit');
    const manifest = JSON.parse((await edgerec(...trainArgs(refitDir), '--refit', '--json')).stdout);
    expect(manifest.refit).toBe(true);
    expect(plain.refit).toBeUndefined();
    expect(plain.stages.pinnerformer.refit).toBeUndefined();
    const { epochs, events: refitEvents } = manifest.stages.pinnerformer.refit;
    expect(epochs).toBe(manifest.stages.pinnerformer.bestEpoch + 1);
    expect(refitEvents).toBeGreaterThan(0);
    const tensors = (run: string, model: string) =>
      readFileSync(join(run, 'pinnerformer', model, 'tensors.bin'));
    // The selection fit is the one a plain run publishes, and it is what validation scored for the space.
    expect(tensors(refitDir, 'selection').equals(tensors(straight, 'model'))).toBe(true);
    expect(manifest.stages.pinnerformer.epochs).toEqual(plain.stages.pinnerformer.epochs);
    expect(manifest.retrieval).toEqual(plain.retrieval);
    // What it publishes is another model, trained on the validation events as well.
    expect(tensors(refitDir, 'model').equals(tensors(straight, 'model'))).toBe(false);

    // LightGCN likewise: the selection fit is a plain run's, the published tables the refit's.
    const lightgcn = (run: string, file: string) => readFileSync(join(run, 'lightgcn', file));
    for (const file of ['items.f32', 'fold-in.f32']) {
      expect(lightgcn(refitDir, `selection/${file}`).equals(lightgcn(straight, file)), file).toBe(true);
      expect(lightgcn(refitDir, file).equals(lightgcn(straight, file)), file).toBe(false);
    }
    const { refit: lightgcnRefit, ...lightgcnSelection } = manifest.stages.lightgcn;
    expect(lightgcnSelection.bestEpoch).toBe(plain.stages.lightgcn.bestEpoch);
    expect(lightgcnSelection.options).toEqual(plain.stages.lightgcn.options);
    expect(lightgcnRefit.epochs).toBe(plain.stages.lightgcn.bestEpoch + 1);
    expect(lightgcnRefit.events).toBe(refitEvents);

    // The GNN: gnn/items.f32 stays the selection fit (a plain run's); the refit table is what the refit
    // PinnerFormer reads as its frozen item features, and the selection PinnerFormer reads the selection's.
    const file = (run: string, path: string) => readFileSync(join(run, path));
    expect(file(refitDir, 'gnn/items.f32').equals(file(straight, 'gnn/items.f32'))).toBe(true);
    const refitGnn = file(refitDir, 'gnn/refit/items.f32');
    expect(refitGnn.equals(file(straight, 'gnn/items.f32'))).toBe(false);
    expect(manifest.tables['gnn/refit/items.f32']).toEqual([400, 64]);
    expect(manifest.stages.gnn.refit).toMatchObject({
      epochs: plain.stages.gnn.bestEpoch + 1,
      events: refitEvents,
    });
    expect(tensors(refitDir, 'model').includes(refitGnn)).toBe(true);
    expect(tensors(refitDir, 'model').includes(file(straight, 'gnn/items.f32'))).toBe(false);
    expect(tensors(refitDir, 'selection').includes(file(straight, 'gnn/items.f32'))).toBe(true);

    // The GNN's refit and LightGCN on the second thread (the default) or on the main one: the same bytes.
    const serial = join(work, 'refit-serial');
    const serialManifest = JSON.parse(
      (await edgerec(...trainArgs(serial), '--refit', '--serial', '--json')).stdout,
    );
    expect(serialManifest.tables).toEqual(manifest.tables);
    for (const table of Object.keys(manifest.tables))
      expect(file(serial, table).equals(file(refitDir, table)), table).toBe(true);
    expect(tensors(serial, 'model').equals(tensors(refitDir, 'model'))).toBe(true);

    // Killed between LightGCN's selection fit and its refit (its record is on disk, the refit's tables are
    // not), the run refits from that record to the same tables.
    const betweenFits = join(work, 'refit-lightgcn-killed');
    cpSync(refitDir, betweenFits, { recursive: true });
    for (const file of ['items.f32', 'fold-in.f32']) rmSync(join(betweenFits, 'lightgcn', file));
    await edgerec(...trainArgs(betweenFits), '--refit');
    for (const file of ['items.f32', 'fold-in.f32'])
      expect(lightgcn(betweenFits, file).equals(lightgcn(refitDir, file)), file).toBe(true);

    // Killed in the refit, the run resumes to the same tables.
    const killed = join(work, 'refit-killed');
    const child = spawn(process.execPath, [BIN, ...trainArgs(killed), '--refit'], { stdio: 'ignore' });
    await waitFor(join(killed, 'pinnerformer', 'selection', 'state.json'), child, 120_000);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    await edgerec(...trainArgs(killed), '--refit');
    for (const table of [
      'gnn/refit/items.f32',
      'pinnerformer/items.f32',
      'pinnerformer/users.f32',
      'lightgcn/items.f32',
      'lightgcn/fold-in.f32',
      'blend/items.f32',
    ])
      expect(readFileSync(join(killed, table)).equals(readFileSync(join(refitDir, table))), table).toBe(true);

    // Its validation stage would be in-sample: eval refuses to score it (the GNN, not refit, it scores).
    const evalValid = (model: string) =>
      evalOn('--model', model, '--checkpoint', refitDir, '--stage', 'valid', '--json').catch(
        (error: { code: number; stderr: string }) => error,
      );
    for (const model of ['pinnerformer', 'blend']) {
      const refused = (await evalValid(model)) as { code: number; stderr: string };
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/refit on the validation events \(edgerec train --refit\)/);
    }
    expect(JSON.parse(((await evalValid('gnn')) as { stdout: string }).stdout).stage).toBe('valid');

    // A run resumes with the setting it began with.
    const mixed = await edgerec(...trainArgs(straight), '--refit').catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect((mixed as { code: number }).code).toBe(2);
    expect((mixed as { stderr: string }).stderr).toMatch(
      /holds a run without the refit; resume it without --refit/,
    );
  }, 300_000);

  it('--models trains a subset, --retrieval forces the space, and bad lists are refused with exit code 2', async () => {
    const only = join(work, 'lightgcn-only');
    const { stdout } = await edgerec(...trainArgs(only), '--models', 'lightgcn', '--json');
    const manifest = JSON.parse(stdout);
    expect(Object.keys(manifest.stages)).toEqual(['lightgcn']);
    expect(existsSync(join(only, 'pinnerformer', 'model'))).toBe(false);
    expect(manifest.retrieval).toMatchObject({ model: 'lightgcn', chosenBy: 'only-candidate' });
    // Same run (resumed: nothing retrains), the space forced: the choice says so, the scores stay.
    const forced = JSON.parse(
      (await edgerec(...trainArgs(join(work, 'straight')), '--retrieval', 'lightgcn', '--json')).stdout,
    );
    expect(forced.retrieval.model).toBe('lightgcn');
    expect(forced.retrieval.chosenBy).toBe('forced');
    const blended = JSON.parse(
      (await edgerec(...trainArgs(join(work, 'straight')), '--retrieval', 'blend', '--json')).stdout,
    );
    expect(blended.retrieval).toMatchObject({ model: 'blend', chosenBy: 'forced' });
    expect(blended.retrieval.blend).toEqual(forced.retrieval.blend);
    for (const [args, message] of [
      [['--models', 'gnn,bert'], /--models takes a comma-separated subset of gnn,pinnerformer,lightgcn/],
      [['--models', 'pinnerformer'], /add gnn to --models, or pass --no-gnn-features/],
      [
        ['--models', 'gnn', '--retrieval', 'lightgcn'],
        /--retrieval lightgcn names a model --models does not train/,
      ],
      [['--models', 'lightgcn', '--retrieval', 'blend'], /--retrieval blend mixes PinnerFormer and LightGCN/],
      [
        ['--logq-weight', '-1'],
        /--logq-weight <w>' argument '-1' is invalid\. must be a non-negative number/,
      ],
      [['--logq-weight', 'half'], /argument 'half' is invalid\. must be a non-negative number/],
      [
        ['--pinnerformer', 'dim=1.5'],
        /argument 'dim=1\.5' is invalid\. dim must be an integer >= 1, got 1\.5/,
      ],
      [['--pinnerformer', 'depth=3'], /depth is not a PinnerFormer option \(one of: dim, layers/],
      [['--pinnerformer', 'dim'], /takes KEY=VALUE/],
      [['--pinnerformer', 'dim=65'], /--pinnerformer: dim 65 must be a multiple of heads 2/],
      [
        ['--pinnerformer', 'logQWeight=1.5', '--logq-weight', '2'],
        /repeats an option its own flag already sets/,
      ],
    ] as const) {
      const failure = await edgerec(...trainArgs(join(work, 'refused')), ...args).catch(
        (error: { code: number; stderr: string }) => error,
      );
      expect((failure as { code: number }).code).toBe(2);
      expect((failure as { stderr: string }).stderr).toMatch(message);
    }
  }, 300_000);

  it('--pinnerformer KEY=VALUE sets any PinnerFormer option, and run.json records it', async () => {
    const out = join(work, 'pinnerformer-options');
    const manifest = JSON.parse(
      (
        await edgerec(
          ...trainArgs(out),
          '--models',
          'gnn,pinnerformer',
          '--pinnerformer',
          'dim=16',
          '--pinnerformer',
          'itemReplacement=0.1',
          '--json',
        )
      ).stdout,
    );
    expect(manifest.stages.pinnerformer.options).toMatchObject({ dim: 16, itemReplacement: 0.1, heads: 2 });
    expect(manifest.tables['pinnerformer/items.f32'][1]).toBe(16);
  }, 300_000);

  it('evaluates the trained models with eval --checkpoint and refuses a mismatched split', async () => {
    const out = join(work, 'straight');
    // --stage valid scores every validation user: with 150 users (under the 3,000 the run samples) and the
    // run's seed, that is the score run.json recorded for the retrieval-space choice.
    const valid = JSON.parse(
      (
        await evalOn(
          '--model',
          'pinnerformer',
          '--checkpoint',
          out,
          '--stage',
          'valid',
          '--seed',
          '2',
          '--json',
        )
      ).stdout,
    );
    const recorded = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')).retrieval.validation;
    expect(valid.stage).toBe('valid');
    expect(valid.metrics['NDCG@10']).toBeCloseTo(recorded.pinnerformer, 6);
    for (const model of ['gnn', 'pinnerformer']) {
      const { stdout } = await evalOn('--model', model, '--checkpoint', out, '--json');
      const report = JSON.parse(stdout);
      expect(report.model).toBe(model);
      expect(report.metrics['HR@10']).toBeGreaterThan(0);
    }
    const wrong = await evalOn('--protocol', 'full', '--model', 'gnn', '--checkpoint', out).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect((wrong as { code: number }).code).toBe(2);
    expect((wrong as { stderr: string }).stderr).toMatch(/trained on the sasrec split/);
    const otherPositives = await evalOn(
      '--positives',
      'all',
      '--model',
      'pinnerformer',
      '--checkpoint',
      out,
    ).catch((error: { code: number; stderr: string }) => error);
    expect((otherPositives as { code: number }).code).toBe(2);
    expect((otherPositives as { stderr: string }).stderr).toMatch(
      /trained with --positives engaged; evaluating it with --positives all/,
    );
    const missing = await evalOn('--model', 'pinnerformer').catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect((missing as { stderr: string }).stderr).toMatch(/needs --checkpoint/);
  }, 120_000);
});
