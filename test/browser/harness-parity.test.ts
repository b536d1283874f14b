import { expect, it } from 'vitest';
import expected from '../fixtures/harness-parity.json';
import { computeParityResults } from '../shared/harness-parity.ts';

it('the evaluation harness gives in Chromium exactly the metrics it gives in Node', async () => {
  const results = await computeParityResults();
  expect(results).toEqual(expected);
});
