/**
 * PinSage's bipartite pin–board graph in CSR form, both ways: the boards of pin p are
 * `pinBoards[pinOffsets[p] .. pinOffsets[p+1])`, the pins of board b are
 * `boardPins[boardOffsets[b] .. boardOffsets[b+1])`. Items are pins; a pin's boards are listed in board
 * order, a board's pins in the order the board gave them.
 */
export class PinBoardGraph {
  constructor(
    readonly numPins: number,
    readonly numBoards: number,
    readonly pinOffsets: Int32Array,
    readonly pinBoards: Int32Array,
    readonly boardOffsets: Int32Array,
    readonly boardPins: Int32Array,
  ) {
    if (pinOffsets.length !== numPins + 1) throw new RangeError('pinOffsets must hold numPins + 1 entries');
    if (boardOffsets.length !== numBoards + 1)
      throw new RangeError('boardOffsets must hold numBoards + 1 entries');
    if (pinBoards.length !== boardPins.length)
      throw new RangeError('both directions must hold the same edges');
  }

  /**
   * Builds the graph from boards given as item lists. A pin listed twice on one board gets one edge.
   * `shared`: allocate the arrays on SharedArrayBuffers, so worker threads read them without a copy.
   */
  static fromBoards(
    numItems: number,
    boards: readonly ArrayLike<number>[],
    options: { shared?: boolean } = {},
  ): PinBoardGraph {
    const alloc = (n: number) =>
      options.shared ? new Int32Array(new SharedArrayBuffer(n * 4)) : new Int32Array(n);
    const numBoards = boards.length;
    const seen = new Int32Array(numItems).fill(-1);
    const boardOffsets = alloc(numBoards + 1);
    for (let b = 0; b < numBoards; b++) {
      const board = boards[b];
      let count = 0;
      for (let k = 0; k < board.length; k++) {
        const item = board[k];
        if (!(Number.isInteger(item) && item >= 0 && item < numItems))
          throw new RangeError(`board ${b} holds item ${item}, outside [0, ${numItems})`);
        if (seen[item] !== b) {
          seen[item] = b;
          count++;
        }
      }
      boardOffsets[b + 1] = boardOffsets[b] + count;
    }
    const edges = boardOffsets[numBoards];
    const boardPins = alloc(edges);
    const pinOffsets = alloc(numItems + 1);
    seen.fill(-1);
    let cursor = 0;
    for (let b = 0; b < numBoards; b++) {
      const board = boards[b];
      for (let k = 0; k < board.length; k++) {
        const item = board[k];
        if (seen[item] !== b) {
          seen[item] = b;
          boardPins[cursor++] = item;
          pinOffsets[item + 1]++;
        }
      }
    }
    for (let p = 0; p < numItems; p++) pinOffsets[p + 1] += pinOffsets[p];
    const pinBoards = alloc(edges);
    const fill = pinOffsets.slice(0, numItems);
    for (let b = 0; b < numBoards; b++)
      for (let k = boardOffsets[b]; k < boardOffsets[b + 1]; k++) pinBoards[fill[boardPins[k]]++] = b;
    return new PinBoardGraph(numItems, numBoards, pinOffsets, pinBoards, boardOffsets, boardPins);
  }

  get numEdges(): number {
    return this.boardPins.length;
  }

  boardsOf(pin: number): Int32Array {
    return this.pinBoards.subarray(this.pinOffsets[pin], this.pinOffsets[pin + 1]);
  }

  pinsOf(board: number): Int32Array {
    return this.boardPins.subarray(this.boardOffsets[board], this.boardOffsets[board + 1]);
  }

  /** True when every array lives on a SharedArrayBuffer (workers then share it instead of copying). */
  get isShared(): boolean {
    return [this.pinOffsets, this.pinBoards, this.boardOffsets, this.boardPins].every(
      (a) => a.buffer instanceof SharedArrayBuffer,
    );
  }

  /** This graph with its arrays on SharedArrayBuffers (itself when they already are). */
  toShared(): PinBoardGraph {
    if (this.isShared) return this;
    const share = (a: Int32Array) => {
      const out = new Int32Array(new SharedArrayBuffer(a.byteLength));
      out.set(a);
      return out;
    };
    return new PinBoardGraph(
      this.numPins,
      this.numBoards,
      share(this.pinOffsets),
      share(this.pinBoards),
      share(this.boardOffsets),
      share(this.boardPins),
    );
  }
}
