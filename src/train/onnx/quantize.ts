import { InputError } from '../../core/errors.ts';
import { readModel } from './builder.ts';
import { calibrateChannels } from './calibrate.ts';
import { checkFeeds, type Feeds } from './feeds.ts';
import { quantizeFp16 } from './fp16.ts';
import { findInt8Targets, quantizeInt8 } from './int8.ts';
import { onnx } from './proto.ts';
import { type SmoothOptions, smoothChannels } from './smooth.ts';
import { checkSupported } from './supported-ops.ts';

export type QuantizeOptions =
  | { dtype: 'fp16' }
  | {
      dtype: 'int8';
      form: 'dq' | 'qdq';
      calibration?: Feeds[];
      /** qdq: SmoothQuant per-input-channel smoothing (smooth.ts), on by default; false turns it off. */
      smooth?: SmoothOptions | false;
    };

/** The variant's name as written in file names and in the model's metadata: fp16, int8-dq, int8-qdq. */
export function variantName(options: QuantizeOptions): string {
  return options.dtype === 'fp16' ? 'fp16' : `int8-${options.form}`;
}

/**
 * Quantizes a serialized fp32 model (any graph of SUPPORTED_OPS) and returns the serialized variant, which
 * records itself in the `edgerec.quantization` metadata entry. Bad models and missing calibration are
 * InputErrors.
 */
export async function quantizeOnnx(fp32: Uint8Array, options: QuantizeOptions): Promise<Uint8Array> {
  const model = readModel(fp32);
  checkSupported(model);
  let quantized: onnx.ModelProto;
  if (options.dtype === 'fp16') {
    quantized = quantizeFp16(model);
  } else if (options.form === 'dq') {
    quantized = quantizeInt8(model, 'dq');
  } else {
    if (!options.calibration || options.calibration.length === 0)
      throw new InputError(
        'int8 qdq quantization needs calibration inputs (activation ranges come from them)',
      );
    checkFeeds(model, options.calibration);
    const smooth = options.smooth ?? {};
    const targets = findInt8Targets(model);
    const channels =
      smooth === false
        ? new Map([...targets.activations].map((a) => [a, 1]))
        : smoothChannels(model, targets);
    const stats = await calibrateChannels(model, channels, options.calibration);
    quantized = quantizeInt8(model, 'qdq', stats, smooth);
  }
  const key = 'edgerec.quantization';
  quantized.metadataProps = [
    ...quantized.metadataProps.filter((p) => p.key !== key),
    onnx.StringStringEntryProto.create({ key, value: variantName(options) }),
  ];
  return onnx.ModelProto.encode(quantized).finish();
}
