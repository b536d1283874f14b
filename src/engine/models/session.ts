import type * as Ort from 'onnxruntime-web';
import type { ExecutionProvider, ModelEntry } from '../../core/bundle/index.ts';
import { loadedOrtBuild, loadOrt } from '../onnx-runtime.ts';
import { track } from '../resources.ts';

export type Feeds = Record<string, { data: Float32Array; dims: number[] }>;

/** One ORT session of one bundle variant on one execution provider. */
export class ModelSession {
  private constructor(
    readonly entry: ModelEntry,
    readonly provider: ExecutionProvider,
    private readonly session: Ort.InferenceSession,
    private readonly ort: typeof Ort,
  ) {}

  static async create(
    entry: ModelEntry,
    bytes: Uint8Array,
    provider: ExecutionProvider,
  ): Promise<ModelSession> {
    const ort = await loadOrt();
    if (provider === 'webgpu' && loadedOrtBuild() !== 'webgpu')
      throw new Error("onnxruntime-web's wasm-only build runs in this worker: no WebGPU EP");
    const session = await ort.InferenceSession.create(bytes, {
      executionProviders: [provider],
      graphOptimizationLevel: 'all',
    });
    track('ortSessions', 1);
    return new ModelSession(entry, provider, session, ort);
  }

  /** Runs in flight or waiting, one after the other. */
  private queue: Promise<unknown> = Promise.resolve();
  private released?: Promise<void>;

  /**
   * Runs the model and copies one output out of ORT's tensors (GPU outputs are read back). Calls are
   * serialised: onnxruntime-web refuses a second run of a session while one is in progress on WebGPU
   * ("Session already started"), and the sync client runs the encoder in the background while
   * recommend() may run it too.
   */
  run(feeds: Feeds, output: string): Promise<Float32Array> {
    if (this.released) return Promise.reject(new Error('edgerec: an ORT session was used after dispose()'));
    const next = this.queue.then(() => this.runNow(feeds, output));
    this.queue = next.catch(() => {});
    return next;
  }

  private async runNow(feeds: Feeds, output: string): Promise<Float32Array> {
    const tensors: Record<string, Ort.Tensor> = {};
    for (const [name, { data, dims }] of Object.entries(feeds))
      tensors[name] = new this.ort.Tensor('float32', data, dims);
    const results = await this.session.run(tensors, [output]);
    const tensor = results[output];
    // A CPU output's array is ORT's own copy out of the wasm heap (a GPU output is read back into a new
    // one): dispose() only drops the tensor's reference to it, so it is returned without another copy.
    const data = (await tensor.getData()) as Float32Array;
    tensor.dispose();
    return data;
  }

  /** Releases the session once the runs already queued have ended (a bundle swap may race a background run). */
  dispose(): Promise<void> {
    this.released ??= (async () => {
      await this.queue;
      track('ortSessions', -1);
      await this.session.release();
    })();
    return this.released;
  }
}

/** Zero feeds shaped by a variant's inputs, with `batch` rows and one user (as served): the warm-up input. */
export function zeroFeeds(entry: ModelEntry, batch: number): Feeds {
  const feeds: Feeds = {};
  for (const input of entry.inputs) {
    const dims = input.shape.map((d) => (d === 'batch' ? batch : d === 'users' ? 1 : d));
    feeds[input.name] = { data: new Float32Array(dims.reduce((a, b) => a * b, 1)), dims };
  }
  return feeds;
}

export interface Candidate {
  entry: ModelEntry;
  provider: ExecutionProvider;
}

/** A candidate's name in timings and failures, and in a remembered choice: `int8-dq@wasm`. */
export function candidateLabel({ entry, provider }: Candidate): string {
  return `${entry.dtype}${entry.form ? `-${entry.form}` : ''}@${provider}`;
}

/**
 * Creates a session per candidate (variant × EP), times a few runs at the batch the engine will use
 * after one warm-up, keeps the fastest and releases the rest: a small ranker is often faster on wasm
 * than paying WebGPU's dispatch and readback. Candidates that fail to load are skipped. `remembered`, the
 * label an earlier start chose on this device, is loaded and warmed up alone, untimed (`remembered: false`
 * when it was not there or failed: then every candidate is timed).
 */
export async function fastestSession(
  candidates: Candidate[],
  load: (entry: ModelEntry) => Promise<Uint8Array>,
  batch: number,
  output: string,
  runs = 3,
  remembered?: string,
): Promise<{
  session: ModelSession;
  timings: Record<string, number>;
  failures: string[];
  label: string;
  remembered: boolean;
}> {
  let best: { session: ModelSession; ms: number; label: string } | undefined;
  const timings: Record<string, number> = {};
  const failures: string[] = [];
  const known = candidates.find((c) => candidateLabel(c) === remembered);
  if (known) {
    let session: ModelSession | undefined;
    try {
      session = await ModelSession.create(known.entry, await load(known.entry), known.provider);
      await session.run(zeroFeeds(known.entry, batch), output);
      return { session, timings, failures, label: candidateLabel(known), remembered: true };
    } catch (error) {
      failures.push(`${candidateLabel(known)}: ${error instanceof Error ? error.message : String(error)}`);
      if (session) await session.dispose().catch(() => {});
    }
  }
  for (const candidate of candidates) {
    if (candidate === known) continue;
    const { entry, provider } = candidate;
    const label = candidateLabel(candidate);
    let session: ModelSession | undefined;
    try {
      session = await ModelSession.create(entry, await load(entry), provider);
      const feeds = zeroFeeds(entry, batch);
      await session.run(feeds, output);
      const started = performance.now();
      for (let r = 0; r < runs; r++) await session.run(feeds, output);
      const ms = (performance.now() - started) / runs;
      timings[label] = ms;
      if (!best || ms < best.ms) {
        if (best) await best.session.dispose();
        best = { session, ms, label };
      } else await session.dispose();
    } catch (error) {
      failures.push(`${label}: ${error instanceof Error ? error.message : String(error)}`);
      if (session) await session.dispose().catch(() => {});
    }
  }
  if (!best) throw new Error(`no model variant could run: ${failures.join('; ')}`);
  return { session: best.session, timings, failures, label: best.label, remembered: false };
}
