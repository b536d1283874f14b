import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { computeParityResults } from '../shared/harness-parity.ts';

const FIXTURE = join(import.meta.dirname, '../fixtures/harness-parity.json');

it('the harness reproduces the committed cross-runtime fixture in Node (UPDATE_FIXTURES=1 rewrites it)', async () => {
  const results = await computeParityResults();
  if (process.env.UPDATE_FIXTURES) writeFileSync(FIXTURE, `${JSON.stringify(results, null, 2)}\n`);
  const expected = JSON.parse(readFileSync(FIXTURE, 'utf8'));
  expect(Object.keys(results)).toHaveLength(6);
  for (const entry of Object.values(results)) expect(entry.users).toBeGreaterThan(10);
  expect(results).toEqual(expected);
});
