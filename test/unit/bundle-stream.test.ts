import { describe, expect, it } from 'vitest';
import { readStreamed } from '../../src/core/bundle/stream.ts';

function chunked(chunks: number[][]): Response {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(Uint8Array.from(chunk));
      controller.close();
    },
  });
  return new Response(body);
}

describe('readStreamed (byte progress inside a file)', () => {
  it('reports the bytes after every chunk and returns them concatenated in order', async () => {
    const seen: number[] = [];
    const bytes = await readStreamed(chunked([[1, 2, 3], [4], [5, 6]]), (loaded) => seen.push(loaded));
    expect(seen).toEqual([3, 4, 6]);
    expect(Array.from(bytes)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('returns a single chunk as it is, and an empty body as no bytes', async () => {
    const seen: number[] = [];
    expect(Array.from(await readStreamed(chunked([[7, 8]]), (n) => seen.push(n)))).toEqual([7, 8]);
    expect(seen).toEqual([2]);
    expect((await readStreamed(new Response(null), () => {})).byteLength).toBe(0);
  });
});
