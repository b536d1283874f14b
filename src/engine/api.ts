// The worker API is part of the SDK–worker contract, in src/core/contract.
export type { EngineApi } from '../core/contract/api.ts';
