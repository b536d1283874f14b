export { PinBoardGraph } from './bipartite.ts';
export { BOARD_DEFAULTS, type BoardOptions, boardsFor, deriveBoards } from './boards.ts';
export {
  decodeNeighborTable,
  encodeNeighborTable,
  loadNeighborTable,
  saveNeighborTable,
} from './neighbor-file.ts';
export { type SampleOptions, sampleNeighbors } from './parallel.ts';
export {
  hardOf,
  type NeighborTable,
  neighborsOf,
  resolveWalkOptions,
  sampleNeighborsSync,
  WALK_DEFAULTS,
  type WalkOptions,
  weightsOf,
} from './random-walk.ts';
