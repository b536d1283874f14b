import type { ActionWindow, EncoderInput } from '../../core/sequence/index.ts';
import { encoderInput, tableRows } from '../../core/sequence/index.ts';
import type { CompactEncoder } from '../encoder/model.ts';
import type { ActionSequence } from '../pinnerformer/sequences.ts';
import type { Session } from '../ranker/examples.ts';
import type { UserSpace } from '../space/index.ts';

/** Number of a time-sorted sequence's actions strictly before `time`. */
export function countBefore(ts: Float64Array, time: number): number {
  let lo = 0;
  let hi = ts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ts[mid] < time) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function prefix(sequence: ActionSequence, end: number): ActionSequence {
  return {
    items: sequence.items.subarray(0, end),
    actions: sequence.actions.subarray(0, end),
    ts: sequence.ts.subarray(0, end),
    positive: sequence.positive.subarray(0, end),
  };
}

/** Every user's sequence cut at `time` (what the server knew then). */
export function sequencesBefore(sequences: ActionSequence[], time: number): ActionSequence[] {
  return sequences.map((s) => prefix(s, countBefore(s.ts, time)));
}

/** The server's long-term embedding of every user as of `time`, [users × dim] (zeros for no history). */
export function longTermSnapshot(
  teacher: Pick<UserSpace, 'embedSequences'>,
  sequences: ActionSequence[],
  time: number,
): Float32Array {
  const cut = sequencesBefore(sequences, time);
  const table = teacher.embedSequences(cut);
  const dim = table.length / Math.max(1, cut.length);
  cut.forEach((s, u) => {
    if (s.items.length === 0) table.fill(0, u * dim, (u + 1) * dim);
  });
  return table;
}

/** The compact encoder's embedding of each window, [n × itemDim] (zeros for an empty window). */
export function encodeWindows(
  encoder: CompactEncoder,
  windows: ActionWindow[],
  itemTable: Float32Array,
  chunk = 1024,
): Float32Array {
  const { length, itemDim } = encoder.shape;
  const rowOf = tableRows(itemTable, itemDim);
  const out = new Float32Array(windows.length * itemDim);
  for (let start = 0; start < windows.length; start += chunk) {
    const part = windows.slice(start, start + chunk);
    out.set(encoder.embed(encoderInput(part, length, itemDim, rowOf)), start * itemDim);
  }
  windows.forEach((w, n) => {
    if ((w.end ?? w.items.length) - (w.start ?? 0) === 0) out.fill(0, n * itemDim, (n + 1) * itemDim);
  });
  return out;
}

/** Each session's window: the user's actions before its start (what the device holds then). */
export function sessionWindows(sequences: ActionSequence[], sessions: Session[]): ActionWindow[] {
  return sessions.map((s) => {
    const sequence = sequences[s.user];
    return {
      items: sequence.items,
      actions: sequence.actions,
      ts: sequence.ts,
      end: countBefore(sequence.ts, s.start),
    };
  });
}

/** Short-term embeddings at the start of each session, from the user's actions before it. */
export function sessionEmbeddings(
  encoder: CompactEncoder,
  sequences: ActionSequence[],
  sessions: Session[],
  itemTable: Float32Array,
): Float32Array {
  return encodeWindows(encoder, sessionWindows(sequences, sessions), itemTable);
}

/** The newest `length` actions before each session, laid out as the engine feeds an early-fusion ranker. */
export function sessionSequences(
  sequences: ActionSequence[],
  sessions: Session[],
  itemTable: Float32Array,
  dim: number,
  length: number,
): EncoderInput {
  return encoderInput(sessionWindows(sequences, sessions), length, dim, tableRows(itemTable, dim));
}
