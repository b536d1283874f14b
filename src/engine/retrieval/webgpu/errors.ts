/** Typed errors of the WebGPU retrieval kernels; the engine catches them and falls back to the CPU. */
import { EdgerecError } from '../../../core/errors.ts';

/** No adapter or device, or the adapter lacks a limit the kernels need (e.g. a big enough storage binding). */
export class WebGpuUnavailableError extends EdgerecError {
  constructor(message: string, options?: ErrorOptions) {
    super('DEVICE_UNAVAILABLE', message, options);
    this.name = 'WebGpuUnavailableError';
  }
}

/** The device is gone (destroyed, driver reset, GPU process crash): every later `topK` rejects with this. */
export class DeviceLostError extends EdgerecError {
  constructor(
    message: string,
    /** The browser's loss info, when `device.lost` has resolved. */
    readonly info?: GPUDeviceLostInfo,
    options?: ErrorOptions,
  ) {
    super('DEVICE_LOST', message, options);
    this.name = 'DeviceLostError';
  }
}

/** The error a retriever rejects with once its device is lost: the browser's reason, else the failure's. */
export function deviceLostError(info: GPUDeviceLostInfo | undefined, cause?: unknown): DeviceLostError {
  const why = info ? `${info.reason}${info.message ? `: ${info.message}` : ''}` : String(cause);
  return new DeviceLostError(`WebGPU device lost (${why})`, info, cause ? { cause } : undefined);
}
