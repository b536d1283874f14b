import { ACTION_CODE, ACTIONS, type Action } from './events.ts';

/**
 * Interactions stored column-wise in typed arrays: a million rows cost 17 MB instead of a million objects.
 * `ts` is milliseconds since the epoch, or the row's position in its file where a data set has no clock.
 */
export interface InteractionLog {
  readonly length: number;
  readonly user: Int32Array;
  readonly item: Int32Array;
  readonly action: Uint8Array;
  readonly ts: Float64Array;
}

export function actionName(code: number): Action {
  const action = ACTIONS[code];
  if (action === undefined) throw new RangeError(`unknown action code ${code}`);
  return action;
}

export const POSITIVE_CODES: ReadonlySet<number> = new Set([
  ACTION_CODE.click,
  ACTION_CODE.closeup,
  ACTION_CODE.save,
]);
export const NON_IMPRESSION_CODES: ReadonlySet<number> = new Set([
  ACTION_CODE.click,
  ACTION_CODE.closeup,
  ACTION_CODE.save,
  ACTION_CODE.hide,
]);

/** Appends rows into growable typed arrays, then hands out a trimmed InteractionLog. */
export class InteractionLogBuilder {
  private capacity: number;
  private size = 0;
  private user: Int32Array;
  private item: Int32Array;
  private action: Uint8Array;
  private ts: Float64Array;

  constructor(initialCapacity = 1024) {
    this.capacity = Math.max(16, initialCapacity);
    this.user = new Int32Array(this.capacity);
    this.item = new Int32Array(this.capacity);
    this.action = new Uint8Array(this.capacity);
    this.ts = new Float64Array(this.capacity);
  }

  get length(): number {
    return this.size;
  }

  push(user: number, item: number, action: number, ts: number): void {
    if (this.size === this.capacity) this.grow();
    const i = this.size++;
    this.user[i] = user;
    this.item[i] = item;
    this.action[i] = action;
    this.ts[i] = ts;
  }

  private grow(): void {
    this.capacity *= 2;
    const user = new Int32Array(this.capacity);
    user.set(this.user);
    const item = new Int32Array(this.capacity);
    item.set(this.item);
    const action = new Uint8Array(this.capacity);
    action.set(this.action);
    const ts = new Float64Array(this.capacity);
    ts.set(this.ts);
    this.user = user;
    this.item = item;
    this.action = action;
    this.ts = ts;
  }

  build(): InteractionLog {
    const n = this.size;
    return {
      length: n,
      user: this.user.slice(0, n),
      item: this.item.slice(0, n),
      action: this.action.slice(0, n),
      ts: this.ts.slice(0, n),
    };
  }
}

/** Keeps the rows for which `keep(row)` is true. */
export function filterLog(log: InteractionLog, keep: (row: number) => boolean): InteractionLog {
  const builder = new InteractionLogBuilder(log.length);
  for (let r = 0; r < log.length; r++) {
    if (keep(r)) builder.push(log.user[r], log.item[r], log.action[r], log.ts[r]);
  }
  return builder.build();
}

/** The rows of `a` followed by those of `b` (one user's rows stay in time order where `b` comes later). */
export function concatLogs(a: InteractionLog, b: InteractionLog): InteractionLog {
  const builder = new InteractionLogBuilder(a.length + b.length);
  for (const log of [a, b])
    for (let r = 0; r < log.length; r++) builder.push(log.user[r], log.item[r], log.action[r], log.ts[r]);
  return builder.build();
}

/** Rows grouped by user (CSR): rows of user u are `rows[offsets[u] .. offsets[u+1])`, sorted by time, ties by row. */
export interface RowsByUser {
  readonly offsets: Int32Array;
  readonly rows: Int32Array;
}

export function groupRowsByUser(log: InteractionLog, numUsers: number): RowsByUser {
  const offsets = new Int32Array(numUsers + 1);
  for (let r = 0; r < log.length; r++) offsets[log.user[r] + 1]++;
  for (let u = 0; u < numUsers; u++) offsets[u + 1] += offsets[u];
  const cursor = offsets.slice(0, numUsers);
  const rows = new Int32Array(log.length);
  for (let r = 0; r < log.length; r++) rows[cursor[log.user[r]]++] = r;
  const ts = log.ts;
  for (let u = 0; u < numUsers; u++) {
    const start = offsets[u];
    const end = offsets[u + 1];
    let sorted = true;
    for (let i = start + 1; i < end && sorted; i++) sorted = ts[rows[i - 1]] <= ts[rows[i]];
    if (!sorted) {
      const slice = Array.from(rows.subarray(start, end)).sort((a, b) => ts[a] - ts[b] || a - b);
      rows.set(slice, start);
    }
  }
  return { offsets, rows };
}

/** Per-user item lists in CSR form: items of user u are `items[offsets[u] .. offsets[u+1])`, oldest first. */
export interface UserItems {
  readonly offsets: Int32Array;
  readonly items: Int32Array;
}

export function userItemsOf(user: UserItems, u: number): Int32Array {
  return user.items.subarray(user.offsets[u], user.offsets[u + 1]);
}

/** Builds CSR user→items from per-user arrays. */
export function userItemsFromLists(lists: ArrayLike<ArrayLike<number>>): UserItems {
  const offsets = new Int32Array(lists.length + 1);
  for (let u = 0; u < lists.length; u++) offsets[u + 1] = offsets[u] + lists[u].length;
  const items = new Int32Array(offsets[lists.length]);
  for (let u = 0; u < lists.length; u++) items.set(lists[u], offsets[u]);
  return { offsets, items };
}

/** Concatenates two CSR tables user by user (a's items first): history = train followed by validation. */
export function concatUserItems(a: UserItems, b: UserItems): UserItems {
  const users = a.offsets.length - 1;
  const offsets = new Int32Array(users + 1);
  const items = new Int32Array(a.items.length + b.items.length);
  let cursor = 0;
  for (let u = 0; u < users; u++) {
    const first = userItemsOf(a, u);
    const second = userItemsOf(b, u);
    items.set(first, cursor);
    items.set(second, cursor + first.length);
    cursor += first.length + second.length;
    offsets[u + 1] = cursor;
  }
  return { offsets, items };
}
