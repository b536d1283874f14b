import { type BundleSource, httpBundleSource } from '../core/bundle/index.ts';

/** Where a bundle folder is, and the version it holds. */
export interface BundleLocation {
  version: string;
  baseUrl: string;
  network: BundleSource;
}

const withSlash = (url: string) => (url.endsWith('/') ? url : `${url}/`);

/**
 * Resolves `bundleUrl`: a bundles folder with `latest.json` (models/ as `edgerec bundle` writes it), or
 * one bundle's folder with `manifest.json`. Returns undefined when the network cannot say (offline), so
 * the caller can start from the cached version.
 */
export async function locateBundle(
  bundleUrl: string,
  fetchImpl: typeof fetch = globalThis.fetch.bind(globalThis),
): Promise<BundleLocation | undefined> {
  const root = withSlash(new URL(bundleUrl, globalThis.location?.href).href);
  let response: Response;
  try {
    response = await fetchImpl(`${root}latest.json`, { cache: 'no-cache' });
  } catch {
    return undefined;
  }
  if (response.ok) {
    const { version } = (await response.json()) as { version?: unknown };
    if (typeof version !== 'string' || version.length === 0)
      throw new Error(`${root}latest.json names no version`);
    const baseUrl = `${root}${version}/`;
    return { version, baseUrl, network: httpBundleSource(baseUrl, fetchImpl) };
  }
  // Not a bundles folder: a bundle folder itself, whose manifest names the version.
  const network = httpBundleSource(root, fetchImpl);
  try {
    const manifest = JSON.parse(await network.readText('manifest.json')) as { version?: unknown };
    if (typeof manifest.version !== 'string') throw new Error(`${root}manifest.json names no version`);
    return { version: manifest.version, baseUrl: root, network };
  } catch (error) {
    if (error instanceof TypeError) return undefined;
    throw error;
  }
}
