import { ACTION_CODE } from '../events.ts';
import {
  groupRowsByUser,
  type InteractionLog,
  NON_IMPRESSION_CODES,
  POSITIVE_CODES,
} from '../interactions.ts';
import type { SessionTruth } from './metrics.ts';

/**
 * A feed visit starts after this much silence — the ranker's session boundary
 * (src/train/ranker/examples.ts), so the replay asks for a feed where the ranker was trained to answer one.
 */
export const REPLAY_SESSION_GAP_MS = 30 * 60_000;

/** One feed request the data implies: the start of a session of one user inside the window. */
export interface ReplaySession {
  user: number;
  /** The request time: the session's first event. */
  start: number;
  /** The user's rows (indices into the log) before the request, and those of the session, time order. */
  before: Int32Array;
  rows: Int32Array;
}

/**
 * The sessions of every user starting in [from, to): a session is a run of a user's events without a gap
 * over REPLAY_SESSION_GAP_MS; the first event in the window always starts one (what came before is the
 * history), and a session ends at the window's end.
 */
export function replaySessions(
  log: InteractionLog,
  numUsers: number,
  window: { from: number; to: number },
): ReplaySession[][] {
  const { offsets, rows } = groupRowsByUser(log, numUsers);
  const out: ReplaySession[][] = [];
  for (let u = 0; u < numUsers; u++) {
    const mine = rows.subarray(offsets[u], offsets[u + 1]);
    const sessions: ReplaySession[] = [];
    let start = -1;
    const close = (end: number) => {
      if (start >= 0)
        sessions.push({
          user: u,
          start: log.ts[mine[start]],
          before: mine.subarray(0, start),
          rows: mine.subarray(start, end),
        });
      start = -1;
    };
    for (let i = 0; i < mine.length; i++) {
      const ts = log.ts[mine[i]];
      if (ts < window.from) continue;
      if (ts >= window.to) {
        close(i);
        break;
      }
      if (start < 0 || ts - log.ts[mine[i - 1]] > REPLAY_SESSION_GAP_MS) {
        close(i);
        start = i;
      }
    }
    close(mine.length);
    out.push(sessions);
  }
  return out;
}

/** What the user did in a session, on items not in `unavailable` (hidden before, or already acted on). */
export function sessionTruth(
  log: InteractionLog,
  session: ReplaySession,
  unavailable: ReadonlySet<number>,
): SessionTruth {
  const engaged = new Set<number>();
  const hidden = new Set<number>();
  const actions = new Map<number, Set<number>>();
  for (const r of session.rows) {
    const item = log.item[r];
    const code = log.action[r];
    if (!NON_IMPRESSION_CODES.has(code) || unavailable.has(item)) continue;
    if (POSITIVE_CODES.has(code)) engaged.add(item);
    if (code === ACTION_CODE.hide) hidden.add(item);
    const set = actions.get(item) ?? new Set<number>();
    set.add(code);
    actions.set(item, set);
  }
  return { engaged, hidden, actions };
}
