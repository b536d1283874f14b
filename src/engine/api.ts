// The worker's comlink API is the SDK–worker contract: src/core/contract.
export type { EngineApi } from '../core/contract/api.ts';
