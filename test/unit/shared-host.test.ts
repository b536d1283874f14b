/**
 * SharedEngineHost's bookkeeping, with a counting stand-in engine (a mock at the engine boundary: the
 * real engine in a real SharedWorker is test/browser/sdk-shared.test.ts): concurrent inits share one
 * start, a dispose detaches only its connection and the last one disposes the engine, a failed start is
 * retried afresh, and a newcomer during the closing dispose gets a fresh engine.
 */
import { describe, expect, it } from 'vitest';
import type { EngineOptions, EngineStatus, ProgressEvent } from '../../src/core/contract/types.ts';
import { type HostedEngine, SharedEngineHost } from '../../src/engine/shared-host.ts';

const options: EngineOptions = { bundleUrl: '/models/', userId: 'u', databaseName: 'db' };

function counting(failFirst = false) {
  const counts = { created: 0, inits: 0, disposed: 0 };
  const create = (): HostedEngine => {
    const id = ++counts.created;
    let ready = false;
    return {
      init: async (_options: EngineOptions, onProgress?: (p: ProgressEvent) => void) => {
        counts.inits++;
        onProgress?.({ phase: 'manifest', message: 'x' });
        await new Promise((resolve) => setTimeout(resolve, 10));
        onProgress?.({ phase: 'ready', message: 'y' });
        if (failFirst && id === 1) throw new Error('offline');
        ready = true;
        return { ready } as EngineStatus;
      },
      status: async () => ({ ready, items: id }) as unknown as EngineStatus,
      recommend: async () => ({ items: [], engine: id }) as never,
      dispose: async () => {
        counts.disposed++;
        ready = false;
      },
    } as unknown as HostedEngine;
  };
  return { counts, create };
}

describe('SharedEngineHost (stand-in engine at the boundary)', () => {
  it('concurrent inits share one start; dispose detaches; the last dispose closes the engine once', async () => {
    const { counts, create } = counting();
    let idle = 0;
    const host = new SharedEngineHost(create, () => idle++, undefined);
    const [a, b, c] = [host.connect(), host.connect(), host.connect()];
    const heard: string[] = [];
    const statuses = await Promise.all([
      a.init(options, (p) => heard.push(`a:${p.phase}`)),
      b.init(options, (p) => heard.push(`b:${p.phase}`)),
      c.init(options),
    ]);
    expect(counts).toEqual({ created: 1, inits: 1, disposed: 0 });
    // Every connection still starting hears what comes after it attached.
    expect(heard).toEqual(['a:manifest', 'a:ready', 'b:ready']);
    expect(statuses.map((s) => s.connections)).toEqual([3, 3, 3]);
    await a.dispose();
    await a.dispose();
    expect(host.size).toBe(2);
    expect((await b.status()).connections).toBe(2);
    await expect(a.status()).rejects.toMatchObject({ code: 'DISPOSED' });
    await b.dispose();
    expect(counts.disposed).toBe(0);
    await c.dispose();
    expect(counts.disposed).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(idle).toBe(1);
  });

  it('a different identity is refused; a failed start is retried with a fresh engine', async () => {
    const { counts, create } = counting(true);
    const host = new SharedEngineHost(create, () => {}, undefined);
    const [a, b] = [host.connect(), host.connect()];
    const first = a.init(options);
    await expect(b.init({ ...options, userId: 'other' })).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    await expect(first).rejects.toThrow('offline');
    expect((await b.init(options)).connections).toBe(2);
    expect(counts).toEqual({ created: 2, inits: 2, disposed: 1 });
  });

  it('a connection arriving while the last one closes the engine starts a fresh one and keeps the worker', async () => {
    const { counts, create } = counting();
    let idle = 0;
    const host = new SharedEngineHost(create, () => idle++, undefined);
    const a = host.connect();
    await a.init(options);
    const closing = a.dispose();
    const b = host.connect();
    await b.init(options);
    await closing;
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(idle).toBe(0);
    expect(counts).toEqual({ created: 2, inits: 2, disposed: 1 });
    expect(((await b.status()) as unknown as { items: number }).items).toBe(2);
  });
});
