/**
 * locateBundle (src/engine/bundle-location.ts) in Node, with a stand-in fetch at the network boundary:
 * which answers fall back to the cache (none, or "not now") and which are errors naming the URL.
 */
import { describe, expect, it } from 'vitest';
import { BundleLocationError, locateBundle } from '../../src/engine/bundle-location.ts';

const ROOT = 'http://models.test/bundles/';

/** A fetch that answers from a table of URL → [status, body]; URLs not in it answer 404. */
function serving(files: Record<string, [number, string]>): typeof fetch {
  return async (input) => {
    const [status, body] = files[String(input)] ?? [404, '{"message":"not found"}'];
    return new Response(body, { status });
  };
}

const offline: typeof fetch = async () => {
  throw new TypeError('Failed to fetch');
};

describe('locateBundle', () => {
  it('finds the version a bundles folder names in latest.json', async () => {
    const located = await locateBundle(ROOT, serving({ [`${ROOT}latest.json`]: [200, '{"version":"v7"}'] }));
    expect(located?.version).toBe('v7');
    expect(located?.baseUrl).toBe(`${ROOT}v7/`);
  });

  it('is undefined — fall back to the cache — only when there is no answer for now', async () => {
    expect(await locateBundle(ROOT, offline)).toBeUndefined();
    for (const status of [500, 503, 408, 429])
      expect(await locateBundle(ROOT, serving({ [`${ROOT}latest.json`]: [status, 'busy'] }))).toBeUndefined();
  });

  it('a 404 for both latest.json and manifest.json is an error naming the URL, not "offline"', async () => {
    const error = await locateBundle(`${ROOT}typo`, serving({})).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BundleLocationError);
    expect((error as Error).message).toBe(
      `no edgerec bundle at ${ROOT}typo/: ${ROOT}typo/latest.json answered 404 and ${ROOT}typo/manifest.json 404`,
    );
    expect((error as BundleLocationError).status).toBe(404);
  });

  it('a malformed latest.json or manifest is an error naming the URL', async () => {
    await expect(
      locateBundle(ROOT, serving({ [`${ROOT}latest.json`]: [200, '<html>oops</html>'] })),
    ).rejects.toThrow(`${ROOT}latest.json is not valid JSON`);
    await expect(
      locateBundle(ROOT, serving({ [`${ROOT}latest.json`]: [200, '{"latest":"v1"}'] })),
    ).rejects.toThrow(`${ROOT}latest.json names no version`);
    await expect(
      locateBundle(ROOT, serving({ [`${ROOT}manifest.json`]: [200, '{"version":"v1"}'] })),
    ).rejects.toThrow(`${ROOT}manifest.json`);
  });
});
