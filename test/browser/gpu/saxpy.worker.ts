/// <reference lib="webworker" />
// A minimal WGSL compute kernel run inside a module worker: proves the GPU test path end to end
// (adapter → device → pipeline → dispatch → readback) before any real kernel exists.

export interface SaxpyRequest {
  a: number;
  x: Float32Array<ArrayBuffer>;
  y: Float32Array<ArrayBuffer>;
}

export interface SaxpyReply {
  ok: boolean;
  result?: Float32Array;
  adapter?: { isFallbackAdapter: boolean; vendor: string; architecture: string };
  error?: string;
}

const shader = /* wgsl */ `
struct Params { a: f32, n: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x;
  if (i < params.n) {
    y[i] = params.a * x[i] + y[i];
  }
}
`;

async function saxpy({ a, x, y }: SaxpyRequest): Promise<SaxpyReply> {
  const gpu = (self.navigator as WorkerNavigator & { gpu?: GPU }).gpu;
  if (!gpu) return { ok: false, error: 'navigator.gpu is missing in the worker' };
  const adapter = await gpu.requestAdapter();
  if (!adapter) return { ok: false, error: 'requestAdapter() returned null' };
  const device = await adapter.requestDevice();
  const n = x.length;
  const params = new ArrayBuffer(8);
  new Float32Array(params, 0, 1)[0] = a;
  new Uint32Array(params, 4, 1)[0] = n;

  const paramBuf = device.createBuffer({ size: 8, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  const xBuf = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  const yBuf = device.createBuffer({
    size: n * 4,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
  });
  const readBuf = device.createBuffer({
    size: n * 4,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(paramBuf, 0, params);
  device.queue.writeBuffer(xBuf, 0, x);
  device.queue.writeBuffer(yBuf, 0, y);

  const pipeline = device.createComputePipeline({
    layout: 'auto',
    compute: { module: device.createShaderModule({ code: shader }), entryPoint: 'main' },
  });
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer: paramBuf } },
      { binding: 1, resource: { buffer: xBuf } },
      { binding: 2, resource: { buffer: yBuf } },
    ],
  });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(Math.ceil(n / 64));
  pass.end();
  encoder.copyBufferToBuffer(yBuf, 0, readBuf, 0, n * 4);
  device.queue.submit([encoder.finish()]);
  await readBuf.mapAsync(GPUMapMode.READ);
  const result = new Float32Array(readBuf.getMappedRange().slice(0));
  readBuf.unmap();
  const info = adapter.info;
  device.destroy();
  return {
    ok: true,
    result,
    adapter: {
      isFallbackAdapter: info.isFallbackAdapter ?? false,
      vendor: info.vendor,
      architecture: info.architecture,
    },
  };
}

self.onmessage = async (event: MessageEvent<SaxpyRequest>) => {
  try {
    self.postMessage(await saxpy(event.data));
  } catch (error) {
    self.postMessage({ ok: false, error: String(error) } satisfies SaxpyReply);
  }
};
