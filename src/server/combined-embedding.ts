import {
  type CombineRule,
  combineEmbeddings,
  combineRuleName,
  DEFAULT_COMBINE_RULE,
} from '../core/combine/index.ts';
import type { DeviceEmbedding, ServerEmbedding } from './store/index.ts';

/** What the embedding route serves as the user's one embedding: where another device starts. */
export interface CombinedEmbedding {
  vector: number[];
  modelVersion: string;
  /** The rule's name (server, device, newest, or the device's weight). */
  rule: string;
  /** Which stored embeddings it was made from. */
  from: 'server' | 'device' | 'both';
}

/**
 * The server's long-term embedding and the device-learned one combined by `rule`. A vector lives in one
 * bundle's item-table space, so only two of the same model version are combined; of two versions the
 * one written last is served alone. Zeros (the refresh job's "no usable action") count as missing.
 */
export function combinedEmbedding(
  server: ServerEmbedding | undefined,
  device: DeviceEmbedding | undefined,
  rule: CombineRule = DEFAULT_COMBINE_RULE,
): CombinedEmbedding | undefined {
  const usable = <T extends { vector: number[] }>(e: T | undefined) =>
    e?.vector.some((x) => x !== 0) ? e : undefined;
  let s = usable(server);
  let d = usable(device);
  if (s && d && s.modelVersion !== d.modelVersion) {
    if (s.updatedAt > d.updatedAt) d = undefined;
    else s = undefined;
  }
  const vector = combineEmbeddings(rule, s, d);
  const modelVersion = s?.modelVersion ?? d?.modelVersion;
  if (!vector || modelVersion === undefined) return undefined;
  return {
    vector: Array.from(vector),
    modelVersion,
    rule: combineRuleName(rule),
    from: s && d ? 'both' : s ? 'server' : 'device',
  };
}
