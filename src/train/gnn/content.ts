import type { ItemCatalog } from '../../core/dataset.ts';

/**
 * One content feature of every item as a CSR list of vocabulary rows: item i's rows are
 * `rows[offsets[i] .. offsets[i+1])` (each row once). The node input averages their embeddings; an item
 * with no rows gets nothing from this feature.
 */
export interface ContentFeature {
  /** Rows of the feature's embedding table. */
  vocabulary: number;
  offsets: Int32Array;
  rows: Int32Array;
}

/** What the node input is built from beyond the item id. */
export interface ItemContent {
  topics?: ContentFeature;
  titles?: ContentFeature;
}

/** Lower-cased word tokens of a title: runs of letters and digits (any script). */
export function titleTokens(title: string): string[] {
  return title.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** FNV-1a (32-bit) over the UTF-16 code units of `text`, reduced to [0, buckets). */
export function hashBucket(text: string, buckets: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % buckets;
}

function csr(lists: number[][], vocabulary: number): ContentFeature | undefined {
  const offsets = new Int32Array(lists.length + 1);
  for (let i = 0; i < lists.length; i++) offsets[i + 1] = offsets[i] + lists[i].length;
  if (offsets[lists.length] === 0) return undefined;
  const rows = new Int32Array(offsets[lists.length]);
  for (let i = 0; i < lists.length; i++) rows.set(lists[i], offsets[i]);
  return { vocabulary, offsets, rows };
}

/**
 * Content features from the catalog: topics/genres through a vocabulary built in first-seen order (so the
 * same catalog always gives the same rows), and title tokens hashed into `titleBuckets` rows. A feature
 * no item has is left out. `numItems` bounds the catalog (items past its end have no content).
 */
export function itemContent(
  catalog: ItemCatalog | undefined,
  numItems: number,
  options: { topics: boolean; titles: boolean; titleBuckets: number },
): ItemContent {
  if (!catalog) return {};
  const content: ItemContent = {};
  if (options.topics) {
    const vocabulary = new Map<string, number>();
    const lists: number[][] = [];
    for (let i = 0; i < numItems; i++) {
      const ids = new Set<number>();
      for (const topic of catalog.topics[i] ?? []) {
        let id = vocabulary.get(topic);
        if (id === undefined) {
          id = vocabulary.size;
          vocabulary.set(topic, id);
        }
        ids.add(id);
      }
      lists.push([...ids]);
    }
    content.topics = csr(lists, vocabulary.size);
  }
  if (options.titles) {
    const lists: number[][] = [];
    for (let i = 0; i < numItems; i++) {
      const title = catalog.titles[i];
      const buckets = new Set<number>();
      if (title) for (const token of titleTokens(title)) buckets.add(hashBucket(token, options.titleBuckets));
      lists.push([...buckets]);
    }
    content.titles = csr(lists, options.titleBuckets);
  }
  return content;
}

/**
 * Mean of each item's feature rows: `out[n]` = average of `table` rows of item `items[n]` ([items.length ×
 * dim], row-major; zeros for an item without the feature).
 */
export function averageRows(
  feature: ContentFeature,
  table: Float32Array,
  dim: number,
  items: ArrayLike<number>,
): Float32Array {
  const out = new Float32Array(items.length * dim);
  for (let n = 0; n < items.length; n++) {
    const item = items[n];
    const from = feature.offsets[item];
    const to = feature.offsets[item + 1];
    if (to === from) continue;
    const scale = 1 / (to - from);
    const base = n * dim;
    for (let k = from; k < to; k++) {
      const row = feature.rows[k] * dim;
      for (let d = 0; d < dim; d++) out[base + d] += table[row + d] * scale;
    }
  }
  return out;
}

/**
 * The gradient of `averageRows` spread back onto the feature rows: each (item, row) pair of the batch adds
 * the item's gradient divided by the item's row count to that row. Returns each touched row once (in order
 * of first touch) with its summed gradient, ready for `SparseEmbedding.applyGradients`.
 */
export function spreadAverageGradient(
  feature: ContentFeature,
  dim: number,
  items: ArrayLike<number>,
  grad: Float32Array,
): { rows: Int32Array; grads: Float32Array } {
  const slot = new Int32Array(feature.vocabulary).fill(-1);
  const rows: number[] = [];
  for (let n = 0; n < items.length; n++) {
    for (let k = feature.offsets[items[n]]; k < feature.offsets[items[n] + 1]; k++) {
      const row = feature.rows[k];
      if (slot[row] === -1) {
        slot[row] = rows.length;
        rows.push(row);
      }
    }
  }
  const grads = new Float32Array(rows.length * dim);
  for (let n = 0; n < items.length; n++) {
    const from = feature.offsets[items[n]];
    const to = feature.offsets[items[n] + 1];
    if (to === from) continue;
    const scale = 1 / (to - from);
    const source = n * dim;
    for (let k = from; k < to; k++) {
      const target = slot[feature.rows[k]] * dim;
      for (let d = 0; d < dim; d++) grads[target + d] += grad[source + d] * scale;
    }
  }
  return { rows: Int32Array.from(rows), grads };
}
