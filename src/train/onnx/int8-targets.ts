/**
 * The types int8 quantization and SmoothQuant share: below both `int8.ts` and `smooth.ts`, so that
 * neither imports the other's module for them.
 */

/** The observed range of an activation over the calibration feeds. */
export interface Range {
  min: number;
  max: number;
}

/** Where int8 applies: weights (with their output-channel axis) and, for qdq, the activations they meet. */
export interface Int8Targets {
  weights: Map<string, number>;
  activations: Set<string>;
}
