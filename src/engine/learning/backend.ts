import plainWasm from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import simdWasm from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import {
  DEFAULT_LEARNING_OPTIONS,
  type LearningExamples,
  learnEmbedding,
  type Tf,
} from '../../core/learning/index.ts';

export type LearningBackend = 'webgpu' | 'wasm' | 'cpu';

/** Thrown inside a run (or the warm-up) when the learner is disposed: the run ends at the next step. */
export class LearningCancelled extends Error {
  constructor() {
    super('on-device learning: cancelled (disposed)');
    this.name = 'LearningCancelled';
  }
}
/** Tried in this order; the timed warm-up keeps the fastest that works. */
export const LEARNING_BACKENDS: readonly LearningBackend[] = ['webgpu', 'wasm', 'cpu'];

let core: Promise<Tf> | undefined;

/** tfjs-core and its backends, loaded on first use (the engine learns after its first events, not at start). */
export function loadTfjs(): Promise<Tf> {
  core ??= (async () => {
    const tf = await import('@tensorflow/tfjs-core');
    // tfjs-core alone has no gradients registered (the tfjs umbrella package does this): learning needs them.
    await import('@tensorflow/tfjs-core/dist/register_all_gradients');
    await import('@tensorflow/tfjs-backend-cpu');
    return tf;
  })();
  return core;
}

/** Registers and selects `name`; false when it cannot run here (no WebGPU adapter, no WASM). */
export async function selectBackend(tf: Tf, name: LearningBackend): Promise<boolean> {
  return (await backendProblem(tf, name)) === undefined;
}

/** Registers and selects `name`; why it cannot run here, or undefined when it is selected. */
export async function backendProblem(tf: Tf, name: LearningBackend): Promise<string | undefined> {
  try {
    if (name === 'webgpu') {
      if (!globalThis.navigator?.gpu) return 'no navigator.gpu';
      await import('@tensorflow/tfjs-backend-webgpu');
    } else if (name === 'wasm') {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      // Single-threaded: a learning run is a few hundred rows, threads would only contend with retrieval's
      // and ONNX Runtime's; and tfjs starts its pthreads from its own function's source text, which an
      // app's minifier breaks (a consumer build failed with "e is not defined" in every pthread).
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      // The binaries are served with the app (its bundler emits them): no CDN, so a strict CSP holds.
      // tfjs insists on an entry for each binary: the threaded one, never loaded with threads off, gets the
      // SIMD one's URL so that its 425 kB is not shipped.
      wasm.setWasmPaths({
        'tfjs-backend-wasm.wasm': plainWasm,
        'tfjs-backend-wasm-simd.wasm': simdWasm,
        'tfjs-backend-wasm-threaded-simd.wasm': simdWasm,
      });
    }
    if (!(await tf.setBackend(name))) return 'tfjs could not set it';
    await tf.ready();
    return tf.getBackend() === name ? undefined : `tfjs runs ${tf.getBackend()} instead`;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** The GPU device of tfjs's webgpu backend, when that is the backend in use. */
export function webgpuDevice(tf: Tf): GPUDevice | undefined {
  if (tf.getBackend() !== 'webgpu') return undefined;
  return (tf.backend() as unknown as { device?: GPUDevice }).device;
}

/** A learning run's shape at the bundle's dimension: the warm-up's input (seeded values, no events needed). */
function warmupExample(dim: number): { examples: LearningExamples; rows: Float32Array } {
  const positives = 32;
  const count = positives + DEFAULT_LEARNING_OPTIONS.sampled + 64;
  const rows = Float32Array.from({ length: count * dim }, (_, i) => Math.sin(i * 12.9898) * 0.2);
  return {
    rows,
    examples: {
      items: Int32Array.from({ length: count }, (_, i) => i),
      positives,
      positiveWeights: new Float32Array(positives).fill(1 / positives),
      negativeLogWeights: new Float32Array(count - positives),
      counts: { positives, hides: 0, implicit: 64, sampled: DEFAULT_LEARNING_OPTIONS.sampled },
    },
  };
}

export interface BackendChoice {
  backend: LearningBackend;
  /** Mean ms of a warm-up run per backend that worked. */
  timings: Partial<Record<LearningBackend, number>>;
  failures: string[];
}

/**
 * Like the ranker's execution provider (src/engine/models/session.ts): each backend that initialises runs
 * one warm-up learning run (shaders compile, WASM instantiates), then `runs` timed ones; the fastest is
 * kept and left selected. A small learning problem can be faster on wasm than paying WebGPU's dispatches.
 * `pause` is awaited before each backend and each run (outside the timing): the engine waits there until no
 * recommend() is in flight, and ends the warm-up by throwing LearningCancelled when it is being disposed.
 */
export async function chooseBackend(
  tf: Tf,
  dim: number,
  candidates: readonly LearningBackend[] = LEARNING_BACKENDS,
  runs = 2,
  pause: () => Promise<void> = async () => {},
): Promise<BackendChoice> {
  const { examples, rows } = warmupExample(dim);
  const options = { ...DEFAULT_LEARNING_OPTIONS, steps: 10 };
  const timings: Partial<Record<LearningBackend, number>> = {};
  const failures: string[] = [];
  let best: LearningBackend | undefined;
  for (const name of candidates) {
    await pause();
    const problem = await backendProblem(tf, name);
    if (problem !== undefined) {
      failures.push(`${name}: did not initialise (${problem})`);
      continue;
    }
    try {
      await pause();
      await learnEmbedding(tf, examples, rows, undefined, dim, options);
      let spent = 0;
      for (let r = 0; r < runs; r++) {
        await pause();
        const started = performance.now();
        await learnEmbedding(tf, examples, rows, undefined, dim, options);
        spent += performance.now() - started;
      }
      timings[name] = spent / runs;
      if (best === undefined || timings[name]! < timings[best]!) best = name;
    } catch (error) {
      if (error instanceof LearningCancelled) throw error;
      failures.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (best === undefined)
    throw new Error(`on-device learning: no tfjs backend works (${failures.join('; ')})`);
  await selectBackend(tf, best);
  return { backend: best, timings, failures };
}
