/// <reference lib="webworker" />
// One retrieval implementation per dedicated worker (tfjs keeps one global backend, ORT one runtime; the
// engine runs retrieval in a worker too). The page sends the calls to time; the worker times each one.
import { createRetrieval, type Retrieval } from './impls.ts';
import { RECALL_QUERIES, type WorkerReply, type WorkerRequest } from './protocol.ts';
import { benchQueries } from './queries.ts';

const scope = globalThis as unknown as DedicatedWorkerGlobalScope;
let retrieval: Retrieval | undefined;
let queries: Float32Array[] = [];

async function handle(request: WorkerRequest): Promise<WorkerReply> {
  if (request.kind === 'init') {
    queries = benchQueries(request.queries, request.catalog.dim);
    retrieval = await createRetrieval(
      request.impl,
      request.dtype,
      request.catalog,
      request.k,
      request.threads,
    );
    // The first calls compile, upload lazily (tfjs) and fill caches; their answers give recall_vs_f32.
    const answers: number[][] = [];
    for (let i = 0; i < Math.min(RECALL_QUERIES, queries.length); i++)
      answers.push(Array.from(await retrieval.topK(queries[i])));
    return { kind: 'ready', info: retrieval.info, answers };
  }
  if (request.kind === 'run') {
    if (!retrieval) throw new Error('not initialised');
    const at = (i: number) => queries[i % queries.length];
    for (let i = 0; i < request.warmup; i++) await retrieval.topK(at(request.from + i));
    const ms: number[] = [];
    for (let i = 0; i < request.count; i++) {
      const query = at(request.from + request.warmup + i);
      const t = performance.now();
      await retrieval.topK(query);
      ms.push(performance.now() - t);
    }
    return { kind: 'samples', ms };
  }
  await retrieval?.dispose();
  retrieval = undefined;
  return { kind: 'disposed' };
}

scope.onmessage = async (event: MessageEvent<WorkerRequest>) => {
  let reply: WorkerReply;
  try {
    reply = await handle(event.data);
  } catch (error) {
    reply = {
      kind: 'error',
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    };
  }
  scope.postMessage(reply);
};
