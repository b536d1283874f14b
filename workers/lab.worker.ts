/// <reference lib="webworker" />
import { expose } from 'comlink';
import type { LabWorkerApi } from '../src/core/lab/index.ts';
import { runReplayInWorker } from '../src/engine/lab/replay.ts';
import { labEnvironment, runLabInWorker } from '../src/engine/lab/runner.ts';
import { relayProgress } from '../src/engine/progress-relay.ts';

// Thin, as the engine worker: the lab's evaluation lives in src/engine/lab and src/core/lab.
const api: LabWorkerApi = {
  environment: () => labEnvironment(),
  run: (request, onProgress) => relayProgress(onProgress, (report) => runLabInWorker(request, report)),
  replay: (request, onProgress) => relayProgress(onProgress, (report) => runReplayInWorker(request, report)),
};

expose(api);
