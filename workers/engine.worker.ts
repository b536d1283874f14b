/// <reference lib="webworker" />
import { expose } from 'comlink';
import type { EngineApi } from '../src/engine/api.ts';
import { Engine } from '../src/engine/engine.ts';
import { installErrorTransfer } from '../src/sdk/errors-transfer.ts';

// The worker is thin on purpose: everything lives in src/engine, which tests also run in a page.
installErrorTransfer();
const engine = new Engine();

const api: EngineApi = {
  init: (options, onProgress) => engine.init(options, onProgress),
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
