/// <reference lib="webworker" />
// The WebGPU retrieval kernels inside a dedicated module worker, where the engine runs them, plus two
// platform probes that justify the kernels' exactness claims (FMA contraction, unpack2x16float).
import type { DecodedItemTable } from '../../src/core/bundle/index.ts';
import { halfToFloat, type TopKResult } from '../../src/core/retrieval/index.ts';
import { DeviceLostError, WebGpuRetriever } from '../../src/engine/retrieval/webgpu/index.ts';

export type WorkerRequest =
  | { kind: 'probe' }
  | {
      kind: 'topk';
      table: DecodedItemTable;
      calls: { query: Float32Array; k: number; exclude?: Uint32Array }[];
      forceManualInt8?: boolean;
    }
  | { kind: 'lose'; table: DecodedItemTable };

export interface ProbeReply {
  /** Of n cases c + a·b with c = -round(a·b): how many came out nonzero (nonzero = fused multiply-add). */
  n: number;
  fusedPlain: number;
  fusedLet: number;
  fusedLaundered: number;
  /** 64-term dot products in dimension order that differ from Math.fround's, plain and laundered. */
  dotMismatchPlain: number;
  dotMismatchLaundered: number;
  /** Half bit patterns (of the 63,488 finite ones) whose unpack2x16float differs from the reference's halfToFloat. */
  halfMismatches: number;
  halfFirstMismatch?: { bits: number; gpu: number; cpu: number };
}

export type WorkerReply =
  | { ok: true; probe: ProbeReply }
  | { ok: true; results: TopKResult[]; variant: string; timings: unknown }
  | { ok: true; lostReason: string; errorName: string; errorMessage: string }
  | { ok: false; error: string };

const gpu = (self.navigator as WorkerNavigator & { gpu?: GPU }).gpu;

async function probe(): Promise<ProbeReply> {
  if (!gpu) throw new Error('navigator.gpu is missing in the worker');
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error('no adapter');
  const device = await adapter.requestDevice();
  const n = 8192;
  const DIM = 64;
  // Deterministic inputs: a, b with 24 significant bits, so most products are inexact in f32.
  let state = 12345;
  const rnd = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const a = Float32Array.from({ length: n * DIM }, () => Math.fround(rnd() * 2 - 1));
  const b = Float32Array.from({ length: n * DIM }, () => Math.fround(rnd() * 2 - 1));
  const c = Float32Array.from({ length: n }, (_, i) => -Math.fround(a[i * DIM] * b[i * DIM]));
  const halves = new Uint32Array(32768);
  for (let i = 0; i < 32768; i++) halves[i] = (2 * i) | ((2 * i + 1) << 16);
  const shader = /* wgsl */ `
struct P { zero: u32, n: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> c: array<f32>;
@group(0) @binding(4) var<storage, read> h: array<u32>;
@group(0) @binding(5) var<storage, read_write> o: array<f32>;
@group(0) @binding(6) var<storage, read_write> ho: array<vec2<f32>>;
fn launder(x: f32) -> f32 { return bitcast<f32>(bitcast<u32>(x) ^ p.zero); }
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x;
  if (i < 32768u) { ho[i] = unpack2x16float(h[i]); }
  if (i >= p.n) { return; }
  let j = i * ${DIM}u;
  o[i * 5u] = c[i] + a[j] * b[j];
  let pr = a[j] * b[j];
  o[i * 5u + 1u] = c[i] + pr;
  o[i * 5u + 2u] = c[i] + launder(a[j] * b[j]);
  var s = 0.0f;
  var t = 0.0f;
  for (var d = 0u; d < ${DIM}u; d++) {
    s = s + a[j + d] * b[j + d];
    t = t + launder(a[j + d] * b[j + d]);
  }
  o[i * 5u + 3u] = s;
  o[i * 5u + 4u] = t;
}`;
  const make = (data: ArrayBufferView<ArrayBuffer>, usage: number) => {
    const buf = device.createBuffer({ size: data.byteLength, usage: usage | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(buf, 0, data);
    return buf;
  };
  const S = GPUBufferUsage.STORAGE;
  const out = device.createBuffer({ size: n * 20, usage: S | GPUBufferUsage.COPY_SRC });
  const hout = device.createBuffer({ size: 65536 * 4, usage: S | GPUBufferUsage.COPY_SRC });
  const bufs = [
    make(new Uint32Array([0, n, 0, 0]), GPUBufferUsage.UNIFORM),
    make(a, S),
    make(b, S),
    make(c, S),
    make(halves, S),
    out,
    hout,
  ];
  const pipeline = device.createComputePipeline({
    layout: 'auto',
    compute: { module: device.createShaderModule({ code: shader }), entryPoint: 'main' },
  });
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: bufs.map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const read = device.createBuffer({
    size: n * 20 + 65536 * 4,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(Math.max(n, 32768) / 64);
  pass.end();
  encoder.copyBufferToBuffer(out, 0, read, 0, n * 20);
  encoder.copyBufferToBuffer(hout, 0, read, n * 20, 65536 * 4);
  device.queue.submit([encoder.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const all = new Float32Array(read.getMappedRange().slice(0));
  device.destroy();
  const o = all.subarray(0, n * 5);
  const ho = all.subarray(n * 5);
  const reply: ProbeReply = {
    n,
    fusedPlain: 0,
    fusedLet: 0,
    fusedLaundered: 0,
    dotMismatchPlain: 0,
    dotMismatchLaundered: 0,
    halfMismatches: 0,
  };
  for (let i = 0; i < n; i++) {
    if (o[i * 5] !== 0) reply.fusedPlain++;
    if (o[i * 5 + 1] !== 0) reply.fusedLet++;
    if (o[i * 5 + 2] !== 0) reply.fusedLaundered++;
    let s = 0;
    for (let d = 0; d < DIM; d++) s = Math.fround(s + Math.fround(a[i * DIM + d] * b[i * DIM + d]));
    if (!Object.is(o[i * 5 + 3], s)) reply.dotMismatchPlain++;
    if (!Object.is(o[i * 5 + 4], s)) reply.dotMismatchLaundered++;
  }
  for (let bits = 0; bits < 65536; bits++) {
    if (((bits >> 10) & 0x1f) === 0x1f) continue; // ±Infinity and NaN: never in a quantized table
    const cpu = halfToFloat(bits);
    if (!Object.is(ho[bits], cpu)) {
      reply.halfMismatches++;
      reply.halfFirstMismatch ??= { bits, gpu: ho[bits], cpu };
    }
  }
  return reply;
}

async function handle(request: WorkerRequest): Promise<WorkerReply> {
  if (request.kind === 'probe') return { ok: true, probe: await probe() };
  if (request.kind === 'topk') {
    const retriever = await WebGpuRetriever.create(request.table, {
      forceManualInt8: request.forceManualInt8,
    });
    try {
      const results: TopKResult[] = [];
      for (const call of request.calls) results.push(await retriever.topK(call.query, call.k, call.exclude));
      return { ok: true, results, variant: retriever.variant, timings: retriever.lastTimings };
    } finally {
      retriever.dispose();
    }
  }
  // Device loss inside the worker: destroy the device under a live retriever.
  const adapter = await gpu!.requestAdapter();
  const device = await adapter!.requestDevice();
  const retriever = await WebGpuRetriever.create(request.table, { device });
  const query = new Float32Array(request.table.dim).fill(1);
  await retriever.topK(query, 5);
  device.destroy();
  const info = await retriever.lost;
  try {
    await retriever.topK(query, 5);
    return { ok: false, error: 'topK resolved after device.destroy()' };
  } catch (error) {
    const e = error as Error;
    return {
      ok: true,
      lostReason: info.reason,
      errorName: error instanceof DeviceLostError ? 'DeviceLostError' : e.name,
      errorMessage: e.message,
    };
  }
}

self.onmessage = async (event: MessageEvent<WorkerRequest>) => {
  try {
    self.postMessage(await handle(event.data));
  } catch (error) {
    self.postMessage({
      ok: false,
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    });
  }
};
