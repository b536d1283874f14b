/// <reference lib="webworker" />
import { expose } from 'comlink';
import type { EngineApi } from '../src/engine/api.ts';
import { Engine } from '../src/engine/engine.ts';
import { relayProgress } from '../src/engine/progress-relay.ts';
import { SharedEngineHost } from '../src/engine/shared-host.ts';
import { installErrorTransfer } from '../src/sdk/errors-transfer.ts';

// The worker is thin on purpose: everything lives in src/engine, which tests also run in a page.
// One script for both scopes (one chunk to ship): started as a SharedWorker, it serves one engine to every
// connecting page (src/engine/shared-host.ts); as a dedicated Web Worker, one engine to its page.
installErrorTransfer();

const scope = self as unknown as { onconnect?: (event: MessageEvent) => void; close(): void };
if (typeof SharedWorkerGlobalScope !== 'undefined' && self instanceof SharedWorkerGlobalScope) {
  const host = new SharedEngineHost(
    () => new Engine(),
    () => scope.close(),
  );
  scope.onconnect = (event) => expose(host.connect(), event.ports[0]);
} else {
  const engine = new Engine();
  const api: EngineApi = {
    init: (options, onProgress) => relayProgress(onProgress, (report) => engine.init(options, report)),
    recommend: (request) => engine.recommend(request),
    record: (event) => engine.record(event),
    sync: () => engine.sync(),
    setToken: (token) => engine.setToken(token),
    status: () => engine.status(),
    setPrivacy: (on) => engine.setPrivacy(on),
    setAsideEvents: (limit) => engine.setAsideEvents(limit),
    clearCache: () => engine.clearCache(),
    cacheInfo: () => engine.cacheInfo(),
    pruneCache: () => engine.pruneCache(),
    deleteLocalData: () => engine.deleteLocalData(),
    simulateDeviceLoss: () => engine.simulateDeviceLoss(),
    learn: () => engine.learn(),
    simulateLearningDeviceLoss: () => engine.simulateLearningDeviceLoss(),
    dispose: () => engine.dispose(),
  };
  expose(api);
}
