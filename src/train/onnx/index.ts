/** ONNX export and quantization (Node only): build graphs, write fp16 / int8 variants, check op support. */
export { type AttrValue, FLOAT_ATTRIBUTES, type FloatAttr, float } from './attributes.ts';
export {
  type Dim,
  GraphBuilder,
  IR_VERSION,
  type ModelMeta,
  OPSET,
  readModel,
  type TensorDtype,
} from './builder.ts';
export { calibrateChannels, calibrateRanges } from './calibrate.ts';
export {
  checkFeeds,
  type Feed,
  type Feeds,
  type InputSpec,
  inputSpecs,
  parseFeeds,
  randomFeeds,
} from './feeds.ts';
export { FP16_MIN_ELEMENTS } from './fp16.ts';
export { type Int8Form, quantizePerChannel, uint8Params } from './int8.ts';
export type { Range } from './int8-targets.ts';
export { onnx } from './proto.ts';
export { type QuantizeOptions, quantizeOnnx, variantName } from './quantize.ts';
export { maxAbsDiff, type Outputs, runModel } from './run.ts';
export { type ChannelRanges, DEFAULT_SMOOTH_ALPHA, type SmoothOptions, smoothingFactors } from './smooth.ts';
export { checkSupported, MIN_OPSET, SUPPORTED_OPS } from './supported-ops.ts';
