/**
 * tfjs for the lab's learning variants, loaded by a dynamic import only when one is asked for (the lab
 * worker's start stays as it was). The engine's loader and backend set-up (src/engine/learning/backend.ts)
 * with a fixed order instead of its timed warm-up: wasm, which `edgerec replay` runs in Node (the same
 * WASM kernels, so the numbers can be compared), else cpu. No WebGPU: its float sums differ from Node's
 * more, and a choice by timing would make the table depend on the machine.
 */
import type { Tf } from '../../core/learning/index.ts';
// By file, not through src/core/replay's index: the learning code stays in this chunk, off the worker's start.
import { namedVariant } from '../../core/replay/named.ts';
import type { NamedVariant } from '../../core/replay/variant-names.ts';
import type { ReplayVariant } from '../../core/replay/variants.ts';
import { backendProblem, type LearningBackend, loadTfjs } from '../learning/backend.ts';

export const LAB_LEARNING_BACKENDS: readonly LearningBackend[] = ['wasm', 'cpu'];

export interface LabTfjs {
  tf: Tf;
  backend: LearningBackend;
  /** Backends tried before it, each with why it could not run. */
  failures: string[];
}

let ready: Promise<LabTfjs> | undefined;

/** tfjs-core with the first backend of LAB_LEARNING_BACKENDS that initialises here, selected. */
export function labTfjs(): Promise<LabTfjs> {
  ready ??= (async () => {
    const tf = await loadTfjs();
    const failures: string[] = [];
    for (const backend of LAB_LEARNING_BACKENDS) {
      const problem = await backendProblem(tf, backend);
      if (problem === undefined) return { tf, backend, failures };
      failures.push(`${backend}: ${problem}`);
    }
    throw new Error(`replay: no tfjs backend for the learning variants (${failures.join('; ')})`);
  })();
  ready.catch(() => {
    ready = undefined;
  });
  return ready;
}

/** The replay variants of `names` (src/core/replay's, learning included) on the lab's tfjs. */
export async function labVariants(
  names: readonly NamedVariant[],
): Promise<{ variants: ReplayVariant[]; tfjs: LabTfjs }> {
  const tfjs = await labTfjs();
  const loadTf = async () => tfjs.tf;
  return { variants: names.map((name) => namedVariant(name, loadTf)), tfjs };
}
