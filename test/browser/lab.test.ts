/**
 * The quantization lab's worker (workers/lab.worker.ts) on the small real bundle the global setup builds,
 * with its eval pack: an f32 and an i8 item table and the fp32 / int8-dq rankers on wasm must give the
 * numbers the Node lab computed in the global setup (test/generated/bundle/lab-expected.json, written by
 * test/shared/lab-fixture.ts): retrieval metrics exactly, AUC and utility NDCG within 1e-6 (int8-dq 1e-5, int8-qdq 5e-5).
 */
import { proxy, transfer, wrap } from 'comlink';
import { afterAll, describe, expect, it } from 'vitest';
import type { BundleManifest } from '../../src/core/bundle/index.ts';
import type {
  LabReplayProgress,
  LabResult,
  LabWorkerApi,
  LabWorkerProgress,
} from '../../src/core/lab/index.ts';
import { isLearnedVariant, type ReplayMetric } from '../../src/core/replay/index.ts';
import type { ReplayRunReport } from '../../src/train/replay/run.ts';
import {
  LAB_FIXTURE_RANKER_FILE,
  LAB_FIXTURE_REQUEST,
  REPLAY_EXPECTED_FILE,
  REPLAY_FIXTURE,
} from '../shared/lab-fixture-request.ts';

const BUNDLES = '/test/generated/bundle/';
/**
 * The learning variants' rows against Node's. Both learn on tfjs 4.22's wasm backend with the same binary
 * (SIMD, one thread: Node has no wasm threads, the lab worker turns them off), so the learned embeddings and
 * the slates are the same and the rows agree to float64 rounding, as the other rows do: measured |Δ| = 0 on
 * every metric (60-user sample, seed 0). A backend with other float sums (cpu) would move whole slates, so
 * the test requires wasm rather than widening this.
 */
const LEARNED_TOLERANCE = 1e-12;
const worker = new Worker(new URL('../../workers/lab.worker.ts', import.meta.url), { type: 'module' });
const lab = wrap<LabWorkerApi>(worker);

afterAll(() => worker.terminate());

describe('lab worker (wasm) against the Node lab', () => {
  it('computes the same metrics as edgerec lab run, with progress and latencies', async () => {
    const expected = (await (await fetch(`${BUNDLES}lab-expected.json`)).json()) as LabResult;
    const seen: LabWorkerProgress[] = [];
    const result = await lab.run(
      {
        bundleUrl: BUNDLES,
        split: LAB_FIXTURE_REQUEST.split,
        items: [...LAB_FIXTURE_REQUEST.items],
        rankers: [...LAB_FIXTURE_REQUEST.rankers],
        devices: ['wasm'],
        runs: 1,
      },
      proxy((p: LabWorkerProgress) => {
        seen.push(p);
      }),
    );
    expect(result.runtime).toBe('browser');
    expect(result.bundle).toBe(expected.bundle);
    expect([result.users, result.examples]).toEqual([expected.users, expected.examples]);
    expect(result.failures).toEqual([]);
    const run = seen.filter((p) => p.phase === 'run');
    expect(run.length).toBeGreaterThan(3);
    expect(run.at(-1)!.done).toBe(run.at(-1)!.total);

    const labels = result.rows.map((r) => `${r.kind} ${r.variant}`);
    // int8 expands to the forms the bundle lists for wasm: dq and qdq.
    expect(labels).toEqual(['items f32', 'items i8', 'ranker fp32', 'ranker int8-dq', 'ranker int8-qdq']);
    for (const row of result.rows) {
      const want = expected.rows.find((r) => r.kind === row.kind && r.variant === row.variant)!;
      const table = Object.entries(row.metrics)
        .map(([k, v]) => `${k} ${v.toFixed(6)} (node ${want.metrics[k].toFixed(6)})`)
        .join(', ');
      console.log(
        `${row.kind} ${row.variant} on ${row.backend}: ${table}; p50 ${row.latency.p50.toFixed(3)} ms`,
      );
      expect(row.device).toBe('wasm');
      expect(row.latency.samples).toBeGreaterThan(0);
      expect(row.latency.p99).toBeGreaterThanOrEqual(row.latency.p50);
      expect(row.bytes).toBe(want.bytes);
      if (row.kind === 'items') {
        expect(row.backend).toBe('wasm');
        expect(row.metrics).toEqual(want.metrics);
      } else {
        expect(Object.keys(row.metrics)).toEqual(Object.keys(want.metrics));
        // int8-qdq: onnxruntime-web's wasm EP against onnxruntime-node at the basic level, whose integer
        // kernels differ (a few activations round to a neighbouring int8 step): measured 2.3e-5, bound 5e-5.
        // int8-dq: the per-channel DequantizeLinear→MatMul rounds differently in the two builds (~1e-7 on
        // outputs); AUC, a rank statistic, moves by whole pair swaps of near-ties: measured 3.0e-6.
        const tolerance = row.variant === 'int8-qdq' ? 5e-5 : row.variant === 'int8-dq' ? 1e-5 : 1e-6;
        for (const [k, v] of Object.entries(want.metrics))
          expect(Math.abs(row.metrics[k] - v), `${row.variant} ${k}`).toBeLessThanOrEqual(tolerance);
      }
    }
    expect(result.rows.find((r) => r.variant === 'f32')!.speedup).toBe(1);
  });

  it('evaluates your own ranker file (the bundle’s fp32 student, fetched) like the Node lab, and refuses a wrong input', async () => {
    const expected = (await (await fetch(`${BUNDLES}lab-expected.json`)).json()) as LabResult;
    const { version } = await (await fetch(`${BUNDLES}latest.json`)).json();
    const manifest = (await (await fetch(`${BUNDLES}${version}/manifest.json`)).json()) as BundleManifest;
    const entry = manifest.rankers.find((e) => e.role === 'student' && e.dtype === 'fp32')!;
    const fetchRanker = async () => (await fetch(`${BUNDLES}${version}/${entry.file}`)).arrayBuffer();
    const bytes = await fetchRanker();
    const request = {
      bundleUrl: BUNDLES,
      split: LAB_FIXTURE_REQUEST.split,
      items: [],
      rankers: ['fp32' as const],
      devices: ['wasm' as const],
      runs: 1,
      rankerFiles: [{ name: LAB_FIXTURE_RANKER_FILE, bytes }],
    };
    const result = await lab.run(
      transfer(request, [bytes]),
      proxy(() => {}),
    );
    expect(bytes.byteLength).toBe(0); // transferred, not copied
    expect(result.failures).toEqual([]);
    expect(result.rows.map((r) => [r.source ?? 'bundle', r.variant, r.dtype])).toEqual([
      ['bundle', 'fp32', 'fp32'],
      ['file', LAB_FIXTURE_RANKER_FILE, 'fp32'],
    ]);
    const [bundleRow, fileRow] = result.rows;
    const want = expected.rows.find((r) => r.source === 'file' && r.variant === LAB_FIXTURE_RANKER_FILE)!;
    expect(want.metrics).toEqual(
      expected.rows.find((r) => r.kind === 'ranker' && r.variant === 'fp32')!.metrics,
    );
    expect(Object.keys(fileRow.metrics)).toEqual(Object.keys(want.metrics));
    for (const [k, v] of Object.entries(want.metrics))
      expect(Math.abs(fileRow.metrics[k] - v), k).toBeLessThanOrEqual(1e-6);
    expect(fileRow.metrics).toEqual(bundleRow.metrics); // the same graph on the same runtime
    expect(fileRow.bytes).toBe(entry.bytes);
    expect(fileRow.speedup).toBe(1);
    console.log(
      `file ${fileRow.variant} on wasm: ${Object.entries(fileRow.metrics)
        .map(([k, v]) => `${k} ${v.toFixed(6)} (node ${want.metrics[k].toFixed(6)})`)
        .join(', ')}`,
    );

    // The same graph with its input renamed (same length: the protobuf stays valid) is refused.
    const renamed = new Uint8Array(await fetchRanker());
    const text = new TextDecoder('latin1').decode(renamed);
    for (let at = text.indexOf('user_long'); at >= 0; at = text.indexOf('user_long', at + 1))
      renamed[at + 8] = 'x'.charCodeAt(0);
    await expect(
      lab.run(
        transfer(
          { ...request, rankers: [], rankerFiles: [{ name: 'renamed.onnx', bytes: renamed.buffer }] },
          [renamed.buffer],
        ),
        proxy(() => {}),
      ),
    ).rejects.toThrow(/renamed.onnx: missing input "user_long" \(expected float32 \[batch, 64\]/);
  });

  it("replays the pack of a seeded sample to the Node replay's numbers (the replay tab), with progress", async () => {
    const expected = (await (await fetch(`${BUNDLES}${REPLAY_EXPECTED_FILE}`)).json()) as ReplayRunReport;
    const seen: LabReplayProgress[] = [];
    const result = await lab.replay(
      { bundleUrl: BUNDLES, split: REPLAY_FIXTURE.split, variants: [...REPLAY_FIXTURE.variants] },
      proxy((p: LabReplayProgress) => {
        seen.push(p);
      }),
    );
    expect(result.bundle).toBe(expected.bundle);
    expect([result.split, result.seed]).toEqual([REPLAY_FIXTURE.split, REPLAY_FIXTURE.seed]);
    expect(result.sampledUsers).toBe(REPLAY_FIXTURE.maxUsers);
    expect([result.users, result.requests, result.standIns]).toEqual([
      expected.users,
      expected.requests,
      expected.standIns,
    ]);
    expect(result.command).toContain(`--max-users ${REPLAY_FIXTURE.maxUsers} --seed ${REPLAY_FIXTURE.seed}`);
    const run = seen.filter((p) => p.phase === 'run');
    expect(run.length).toBe(expected.requests * REPLAY_FIXTURE.variants.length);
    expect(run.at(-1)).toMatchObject({
      variant: REPLAY_FIXTURE.variants.at(-1),
      done: expected.requests,
      total: expected.requests,
    });
    expect(seen.some((p) => p.phase === 'tfjs')).toBe(true);
    // The learning variants learn on tfjs's wasm backend, as `edgerec replay` does in Node.
    expect(result.learning).toEqual({ backend: 'wasm', failures: [] });
    expect(result.rows.map((r) => r.variant)).toEqual([...REPLAY_FIXTURE.variants]);
    // Not vacuous: the sample finds engaged pins.
    expect(expected.rows.some((r) => r.metrics['Recall@20'] > 0)).toBe(true);
    for (const row of result.rows) {
      const want = expected.rows.find((r) => r.variant === row.variant)!;
      console.log(
        `replay ${row.variant}: ${Object.entries(row.metrics)
          .map(([k, v]) => {
            const node = want.metrics[k as ReplayMetric];
            return `${k} ${v.toFixed(6)} (node ${node.toFixed(6)}, |Δ| ${Math.abs(v - node).toExponential(1)})`;
          })
          .join(', ')}`,
      );
      // The slates are the same: onnxruntime-web's and -node's int8-dq outputs differ by ~1e-7, far
      // below any gap that would reorder a slate here, so the metrics agree to float64 rounding.
      // LEARNED_TOLERANCE: the learning variants (see there).
      const tolerance = isLearnedVariant(row.variant) ? LEARNED_TOLERANCE : 1e-12;
      for (const [k, v] of Object.entries(want.metrics))
        expect(Math.abs(row.metrics[k as ReplayMetric] - v), `${row.variant} ${k}`).toBeLessThanOrEqual(
          tolerance,
        );
    }
  });
});
