/**
 * What `test/browser/setup/bundle.global.ts` writes to `test/generated/bundle/expected.json` and
 * `test/browser/ort-parity.test.ts` reads: the input sets of each model kind and onnxruntime-node's
 * outputs for every variant. Pure TS: imported on both sides.
 */
import type { ModelEntry, ModelKind } from '../../src/core/bundle/manifest.ts';

/** Models that take the same inputs: the encoders, the late-fused rankers, the early-fusion rankers. */
export type InputKind = 'encoder' | 'ranker' | 'ranker-early';

export function inputKind(entry: Pick<ModelEntry, 'kind' | 'fusion'>): InputKind {
  return entry.kind === 'ranker' && entry.fusion === 'early' ? 'ranker-early' : entry.kind;
}

/** Rows of every input set. */
export const BATCH = 5;

/** A float32 tensor as JSON: its dims and its values (each exactly a float32). */
export interface StoredTensor {
  dims: number[];
  data: number[];
}

export type StoredFeeds = Record<string, StoredTensor>;

export interface InputSet {
  /** 'random' (seeded normal values shaped by the manifest) or 'real' (rows and users of the data). */
  name: string;
  feeds: StoredFeeds;
}

/**
 * onnxruntime-node's outputs under two session configurations, which differ only for the int8-dq variants:
 * - `accurate`: its defaults but `session.qdq_matmulnbits_accuracy_level` 0. What every onnxruntime-web
 *   EP is compared with.
 * - `default`: its default options, as `runModel` (and so the bundle's metrics) uses them. At the
 *   `extended` level the CPU EP fuses each per-channel int8 DequantizeLinear → MatMul into a MatMulNBits
 *   (bits 8) with `accuracy_level` 4, which quantizes the *activations* to int8 as well: int8-dq outputs
 *   move by ~3e-2 from what the graph says. onnxruntime-web (wasm or webgpu) makes no such fusion.
 */
export const REFERENCE_NAMES = ['accurate', 'default'] as const;
export type ReferenceName = (typeof REFERENCE_NAMES)[number];

export interface ExpectedModel {
  label: string;
  kind: ModelKind;
  file: string;
  /** Per reference, one record of outputs per input set of the kind, in order. */
  outputs: Record<ReferenceName, StoredFeeds[]>;
}

export interface ExpectedFile {
  version: string;
  batch: number;
  inputs: Record<InputKind, InputSet[]>;
  models: ExpectedModel[];
}

/**
 * `ranker-teacher-int8-qdq`, `ranker-early-student-fp32`, `encoder-student-fp16`: the names `edgerec
 * bundle` gives the files.
 */
export function variantLabel(entry: Pick<ModelEntry, 'kind' | 'role' | 'dtype' | 'form' | 'fusion'>): string {
  const fusion = entry.fusion === 'early' ? '-early' : '';
  return `${entry.kind}${fusion}-${entry.role}-${entry.dtype}${entry.form ? `-${entry.form}` : ''}`;
}
