import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../core/errors.ts';
import { ACTION_CODE, type Event } from '../../core/events.ts';
import { type ActionSequence, sequenceFromEvents } from '../../train/pinnerformer/index.ts';
import { readRunManifest } from '../../train/pipeline.ts';
import { loadUserSpace, RUN_SPACE_FILES, type UserSpace } from '../../train/space/index.ts';
import type { StoredEvent } from '../store/types.ts';

/**
 * The item table of the retrieval space a run chose (run.json `retrieval`; PinnerFormer's in runs from
 * before the choice): the bytes a bundle built from the run ships as its f32 table.
 */
export function runItemsFile(runDir: string): string {
  const model = existsSync(join(runDir, 'run.json')) ? readRunManifest(runDir).retrieval?.model : undefined;
  return join(runDir, RUN_SPACE_FILES[model ?? 'pinnerformer'].items);
}
const RUN_IDS_FILE = 'ids.json';

/** A user's stored events turned into what the encoder reads. */
export interface EncoderInput {
  /** The newest `maxActions` actions on known items (no impressions), oldest first. */
  sequence: ActionSequence;
  /** Events whose item the model's table does not hold (new items, another catalog): left out. */
  skippedItems: number;
}

/** Lower-case hex SHA-256 of a file's bytes. */
export function sha256OfFile(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/**
 * The run's retrieval space (PinnerFormer, or LightGCN's fold-in) as the server runs it: store events in,
 * long-term user embeddings out. It goes through the very functions training uses (`sequenceFromEvents`,
 * then `embedSequences`, zeros for an empty sequence as `longTermSnapshot` writes them), so the server's
 * embedding of a history equals the one training computes for the same events.
 */
export class UserEncoder {
  /** Row of each item id in the model's item table. */
  private readonly rows: Map<string, number>;

  private constructor(
    private readonly space: UserSpace,
    /** Item ids in the order of the item table's rows (the bundle catalog's `ids`). */
    readonly itemIds: readonly string[],
    /** SHA-256 of the space's item table: the bytes a bundle built from this run ships as its f32 table. */
    readonly itemsSha256: string,
    readonly runDir: string,
  ) {
    this.rows = new Map(itemIds.map((id, row) => [id, row]));
  }

  /**
   * Loads the run's retrieval space. Item ids come from `itemIds` (a matching bundle's catalog) or the run's
   * own `ids.json`; when both exist they must agree, as must their count with the model's table.
   */
  static async load(runDir: string, options: { itemIds?: readonly string[] } = {}): Promise<UserEncoder> {
    const itemsFile = runItemsFile(runDir);
    if (!existsSync(itemsFile)) {
      throw new InputError(
        `${runDir} is not a trained run: ${itemsFile} is missing (train one with \`edgerec train --protocol temporal\`)`,
      );
    }
    const runIds = readRunItemIds(runDir);
    if (options.itemIds && runIds && !sameIds(options.itemIds, runIds)) {
      throw new InputError(
        `the bundle catalog's item ids differ from ${join(runDir, RUN_IDS_FILE)}: the bundle was built from another data set`,
      );
    }
    const itemIds = options.itemIds ?? runIds;
    if (!itemIds) throw new InputError(`${runDir} has no ${RUN_IDS_FILE}, and no item ids were given`);
    const space = await loadUserSpace(runDir);
    const numItems = space.items.length / space.dim;
    if (numItems !== itemIds.length) {
      throw new InputError(`${itemsFile} has ${numItems} items but ${itemIds.length} item ids were given`);
    }
    return new UserEncoder(space, itemIds, sha256OfFile(itemsFile), runDir);
  }

  get dim(): number {
    return this.space.dim;
  }

  /** The most actions the model reads (PinnerFormer's `maxLength`; LightGCN reads all of them). */
  get maxLength(): number {
    return this.space.maxLength;
  }

  get hasTimestamps(): boolean {
    return this.space.hasTimestamps;
  }

  /** Which global model's space the embeddings are in. */
  get model(): UserSpace['model'] {
    return this.space.model;
  }

  /** The item table row of an item id, or -1 when the model does not know it. */
  rowOf(itemId: string): number {
    return this.rows.get(itemId) ?? -1;
  }

  /**
   * The encoder's input from stored events, in any order: sorted by time (ties in arrival order, as
   * training sorts its log by time, ties in file order), unknown items dropped and counted, impressions
   * dropped by `sequenceFromEvents` (training's filter), then cut to the newest `maxActions` actions.
   */
  input(
    events: readonly (Event & Partial<Pick<StoredEvent, 'seq'>>)[],
    maxActions = this.maxLength,
  ): EncoderInput {
    const order = events
      .map((event, i) => ({ event, i, row: this.rowOf(event.itemId) }))
      .filter((e) => e.row >= 0)
      .sort((a, b) => a.event.ts - b.event.ts || (a.event.seq ?? a.i) - (b.event.seq ?? b.i) || a.i - b.i);
    const sequence = sequenceFromEvents(
      {
        items: Int32Array.from(order, (e) => e.row),
        actions: Uint8Array.from(order, (e) => ACTION_CODE[e.event.action]),
        ts: Float64Array.from(order, (e) => e.event.ts),
      },
      this.hasTimestamps,
    );
    return { sequence: newest(sequence, maxActions), skippedItems: events.length - order.length };
  }

  /** Long-term user embeddings, [n × dim]; a row of zeros for an empty sequence (as training writes it). */
  embed(sequences: ActionSequence[]): Float32Array {
    const table = this.space.embedSequences(sequences);
    const dim = this.dim;
    sequences.forEach((s, u) => {
      if (s.items.length === 0) table.fill(0, u * dim, (u + 1) * dim);
    });
    return table;
  }
}

function newest(sequence: ActionSequence, n: number): ActionSequence {
  const start = Math.max(0, sequence.items.length - n);
  if (start === 0) return sequence;
  return {
    items: sequence.items.subarray(start),
    actions: sequence.actions.subarray(start),
    ts: sequence.ts.subarray(start),
    positive: sequence.positive.subarray(start),
  };
}

function readRunItemIds(runDir: string): string[] | undefined {
  const file = join(runDir, RUN_IDS_FILE);
  if (!existsSync(file)) return undefined;
  const { items } = JSON.parse(readFileSync(file, 'utf8')) as { items?: unknown };
  if (!Array.isArray(items) || !items.every((id) => typeof id === 'string')) {
    throw new InputError(`${file}: "items" must be an array of item ids`);
  }
  return items;
}

function sameIds(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}
