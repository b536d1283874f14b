import type { Random } from '../../core/random.ts';
import type { Checkpoint, TensorArray } from '../checkpoint.ts';
import { tf } from './backend.ts';

export type Init = 'glorot' | 'zeros' | 'ones' | { normal: number };

let instances = 0;

/**
 * The dense (in-graph) weights of a model and their Adam state. Initial values come from our seeded
 * Random rather than tf's own generators, and Adam is our own: tf.train.adam accumulates β^t by repeated
 * multiplication but recomputes it with pow() after setWeights, so a resumed run drifted in the last bits.
 * Here the bias corrections derive from the step count alone, and a resumed run is bit-identical.
 */
export class DenseParams {
  /** Keyed by the short name; tf's variable names carry a per-instance prefix (they are global). */
  readonly variables = new Map<string, tf.Variable>();
  private readonly firstMoments = new Map<string, tf.Variable>();
  private readonly secondMoments = new Map<string, tf.Variable>();
  private readonly prefix = `dense${instances++}/`;
  private readonly random: Random;
  readonly learningRate: number;
  step = 0;

  constructor(random: Random, learningRate: number) {
    this.random = random;
    this.learningRate = learningRate;
  }

  add(name: string, shape: number[], init: Init): tf.Variable {
    if (this.variables.has(name)) throw new Error(`duplicate parameter ${name}`);
    const size = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    if (init === 'ones') values.fill(1);
    else if (init === 'glorot') {
      const fanIn = shape.length > 1 ? shape[shape.length - 2] : shape[0];
      const fanOut = shape[shape.length - 1];
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      for (let i = 0; i < size; i++) values[i] = (this.random.next() * 2 - 1) * limit;
    } else if (typeof init === 'object') {
      for (let i = 0; i < size; i++) values[i] = this.random.normal() * init.normal;
    }
    const variable = tf.variable(tf.tensor(values, shape), true, `${this.prefix}${name}`);
    this.variables.set(name, variable);
    this.firstMoments.set(name, tf.variable(tf.zeros(shape), false));
    this.secondMoments.set(name, tf.variable(tf.zeros(shape), false));
    return variable;
  }

  get(name: string): tf.Variable {
    const variable = this.variables.get(name);
    if (!variable) throw new Error(`no parameter ${name}`);
    return variable;
  }

  /**
   * One Adam step from gradients keyed by tf variable name (as tf.variableGrads returns them), at the
   * constructor's learning rate unless a schedule passes another.
   */
  apply(
    grads: tf.NamedTensorMap,
    learningRate = this.learningRate,
    beta1 = 0.9,
    beta2 = 0.999,
    epsilon = 1e-8,
  ): void {
    this.step++;
    const correction1 = 1 - beta1 ** this.step;
    const correction2 = 1 - beta2 ** this.step;
    tf.tidy(() => {
      for (const [name, v] of this.variables) {
        const g = grads[v.name];
        if (!g) continue;
        const m = this.firstMoments.get(name)!;
        const s = this.secondMoments.get(name)!;
        m.assign(m.mul(beta1).add(g.mul(1 - beta1)));
        s.assign(s.mul(beta2).add(g.square().mul(1 - beta2)));
        const update = m.div(correction1).div(s.div(correction2).sqrt().add(epsilon)).mul(learningRate);
        v.assign(v.sub(update));
      }
    });
  }

  count(): number {
    let n = 0;
    for (const v of this.variables.values()) n += v.size;
    return n;
  }

  /** Weights and Adam moments as named arrays for saveCheckpoint (the step goes in the trainer's state). */
  snapshot(prefix: string): Record<string, { data: TensorArray; shape: number[] }> {
    const out: Record<string, { data: TensorArray; shape: number[] }> = {};
    for (const [name, v] of this.variables) {
      out[`${prefix}${name}`] = { data: v.dataSync() as Float32Array, shape: v.shape };
      out[`${prefix}adam.m:${name}`] = {
        data: this.firstMoments.get(name)!.dataSync() as Float32Array,
        shape: v.shape,
      };
      out[`${prefix}adam.v:${name}`] = {
        data: this.secondMoments.get(name)!.dataSync() as Float32Array,
        shape: v.shape,
      };
    }
    return out;
  }

  restore(checkpoint: Checkpoint<unknown>, prefix: string, step: number): void {
    const load = (key: string, target: tf.Variable) => {
      const data = checkpoint.tensors.get(key);
      if (!data) throw new Error(`checkpoint lacks ${key}`);
      target.assign(tf.tensor(data, target.shape));
    };
    for (const [name, v] of this.variables) {
      load(`${prefix}${name}`, v);
      load(`${prefix}adam.m:${name}`, this.firstMoments.get(name)!);
      load(`${prefix}adam.v:${name}`, this.secondMoments.get(name)!);
    }
    this.step = step;
  }

  /** Plain copies of the weights, for export and for inference outside tfjs. */
  export(): Record<string, { data: Float32Array; shape: number[] }> {
    const out: Record<string, { data: Float32Array; shape: number[] }> = {};
    for (const [name, v] of this.variables)
      out[name] = { data: v.dataSync() as Float32Array, shape: v.shape };
    return out;
  }

  dispose(): void {
    for (const map of [this.variables, this.firstMoments, this.secondMoments])
      for (const v of map.values()) v.dispose();
  }
}
