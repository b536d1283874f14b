import { describe, expect, it } from 'vitest';
import { engineIdentity } from '../../src/core/contract/api.ts';
import type { EngineOptions } from '../../src/core/contract/types.ts';

const base: EngineOptions = { userId: 'u1', bundleUrl: '/models/' };

describe('engineIdentity: which connections may share one engine', () => {
  it('differs when what the engine serves differs: item table, device, ranker dtype or fusion, user, bundle', () => {
    const others: Partial<EngineOptions>[] = [
      { dtype: 'f32' },
      { device: 'wasm' },
      { rankerDtype: 'fp32' },
      { rankerFusion: 'late' },
      { rankerFusion: 'early' },
      { userId: 'u2' },
      { bundleUrl: '/other/' },
      { databaseName: 'other' },
      { serverUrl: 'http://127.0.0.1:1/' },
    ];
    const identities = new Set([base, ...others.map((o) => ({ ...base, ...o }))].map(engineIdentity));
    expect(identities.size).toBe(others.length + 1);
  });

  it('is the same when only tuning options, the token or the callbacks differ (the first connection applies)', () => {
    const tuned: EngineOptions = {
      ...base,
      token: 't',
      candidates: 100,
      longTermWeight: 0.5,
      maxLogEvents: 10,
      retrievalThreads: 1,
      modelThreads: 1,
    };
    expect(engineIdentity(tuned)).toBe(engineIdentity(base));
  });
});
