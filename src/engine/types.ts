// The SDK–worker contract's types live below both sides, in src/core/contract.
export * from '../core/contract/types.ts';
