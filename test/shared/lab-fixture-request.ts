/** What test/browser/lab.test.ts asks the lab worker for, and where the Node lab's answer is (pure TS). */
export const LAB_EXPECTED_FILE = 'lab-expected.json';
/** One f32 and one i8 item table, the fp32 and int8 (dq, qdq) student rankers, on the valid window. */
export const LAB_FIXTURE_REQUEST = {
  split: 'valid',
  items: ['f32', 'i8'],
  rankers: ['fp32', 'int8'],
} as const;
/** The bundle's student fp32 ranker, given to the lab as a researcher's own file under this name. */
export const LAB_FIXTURE_RANKER_FILE = 'my-ranker.onnx';

/**
 * The lab's replay tab on the small bundle: the pack of this sample and the Node replay's rows for it, the
 * built-in variants and the learning ones (tfjs: wasm in Node and in the lab worker).
 */
export const REPLAY_FIXTURE = {
  split: 'valid',
  seed: 0,
  maxUsers: 60,
  variants: ['server', 'blend', 'multi', 'learned', 'learned+multi'],
} as const;
export const REPLAY_EXPECTED_FILE = 'replay-expected.json';
