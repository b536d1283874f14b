/// <reference lib="webworker" />
/**
 * A helper thread of the wasm CPU retriever: instantiates the kernel on the shared memory, then sleeps in
 * Atomics.wait on CONTROL.SEQ until a job comes (protocol: kernel.ts, CONTROL). Blocking is allowed in a
 * worker and wakes within microseconds on an idle machine; terminate() ends it.
 */
import {
  beginQuery,
  CONTROL,
  JOB,
  jobTag,
  type KernelExports,
  OP_STOP,
  scanChunks,
  type WorkerInit,
  type WorkerReply,
} from './kernel.ts';

function serve(kernel: KernelExports, { memory, layout, thread }: WorkerInit): void {
  const ctl = new Int32Array(memory.buffer, layout.control, 16 * (thread + 1));
  const ctlF = new Float32Array(memory.buffer, layout.control, 16);
  const slot = 16 * thread;
  // Jobs are numbered from 1 (the memory starts zeroed): one posted before this loop runs is still seen.
  let seen = 0;
  for (;;) {
    Atomics.wait(ctl, CONTROL.SEQ, seen);
    const seq = Atomics.load(ctl, CONTROL.SEQ);
    if (seq === seen) continue;
    seen = seq;
    if (Atomics.load(ctl, CONTROL.OP) === OP_STOP) return;
    const tag = jobTag(seq);
    // Too late (the caller closed this job) or a stale wake-up: go back to sleep.
    if (Atomics.compareExchange(ctl, slot + CONTROL.STATE, tag, tag + JOB.JOINED) !== tag) continue;
    beginQuery(kernel, layout, thread, ctl[CONTROL.K], ctl[CONTROL.EXCL] === 1);
    ctl[slot + CONTROL.SIZE] = scanChunks(kernel, layout, ctl, ctlF[CONTROL.QSCALE]);
    Atomics.store(ctl, slot + CONTROL.STATE, tag + JOB.DONE);
    Atomics.notify(ctl, slot + CONTROL.STATE);
  }
}

const scope = globalThis as unknown as DedicatedWorkerGlobalScope;
scope.onmessage = async (event: MessageEvent<WorkerInit>) => {
  const init = event.data;
  let kernel: KernelExports;
  try {
    const instance = await WebAssembly.instantiate(init.module, { env: { memory: init.memory } });
    kernel = instance.exports as unknown as KernelExports;
  } catch (error) {
    scope.postMessage({ ready: false, error: String(error) } satisfies WorkerReply);
    return;
  }
  scope.postMessage({ ready: true } satisfies WorkerReply);
  serve(kernel, init);
  scope.close();
};
