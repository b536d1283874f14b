import { type BundleSource, httpBundleSource, parseManifest } from '../core/bundle/index.ts';
import { bundleHttpCode, EdgerecError } from '../core/errors.ts';

/** Where a bundle folder is, and the version it holds. */
export interface BundleLocation {
  version: string;
  baseUrl: string;
  network: BundleSource;
}

/**
 * The bundle URL answered, but not with a bundle: a 404 (a typo, a wrong folder), another refusal, or a
 * `latest.json` / `manifest.json` that is not what it must be. Never taken for "offline": a cached
 * version is not silently used instead.
 */
export class BundleLocationError extends EdgerecError {
  constructor(
    message: string,
    /** The URL that answered so. */
    readonly url: string,
    /** Its HTTP status, when it was one (none: it answered, but not with a bundle). */
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(status === undefined || status < 400 ? 'BUNDLE_INVALID' : bundleHttpCode(status), message, options);
    this.name = 'BundleLocationError';
  }
}

const withSlash = (url: string) => (url.endsWith('/') ? url : `${url}/`);

/**
 * Statuses that say "not now" rather than "not here": the server is restarting, overloaded or asks to
 * slow down. Like a failed connection, they leave the engine on its cached version, to look again later.
 */
const TRANSIENT = (status: number) => status >= 500 || status === 408 || status === 429;

/** The answer of `url`, or undefined when there is none for now (no network, or a transient status). */
async function get(url: string, fetchImpl: typeof fetch): Promise<Response | undefined> {
  let response: Response;
  try {
    response = await fetchImpl(url, { cache: 'no-cache' });
  } catch {
    return undefined;
  }
  return TRANSIENT(response.status) ? undefined : response;
}

async function json(response: Response, url: string): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new BundleLocationError(
      `${url} is not valid JSON: ${(error as Error).message}`,
      url,
      response.status,
      {
        cause: error,
      },
    );
  }
}

/**
 * Resolves `bundleUrl`: a bundles folder with `latest.json` (models/ as `edgerec bundle` writes it), or
 * one bundle's folder with `manifest.json`. Returns undefined only when the network cannot say — the
 * request failed (offline) or the server answered 5xx/408/429 — so the caller can start from the cached
 * version. Anything else that is not a bundle (404 for both files, a malformed `latest.json` or manifest)
 * throws a BundleLocationError naming the URL.
 */
export async function locateBundle(
  bundleUrl: string,
  fetchImpl: typeof fetch = globalThis.fetch.bind(globalThis),
): Promise<BundleLocation | undefined> {
  const root = withSlash(new URL(bundleUrl, globalThis.location?.href).href);
  const latestUrl = `${root}latest.json`;
  const latest = await get(latestUrl, fetchImpl);
  if (!latest) return undefined;
  if (latest.ok) {
    const { version } = ((await json(latest, latestUrl)) ?? {}) as { version?: unknown };
    if (typeof version !== 'string' || version.length === 0 || version.includes('/'))
      throw new BundleLocationError(
        `${latestUrl} names no version (expected {"version": "<name>"})`,
        latestUrl,
      );
    const baseUrl = `${root}${version}/`;
    return { version, baseUrl, network: httpBundleSource(baseUrl, fetchImpl) };
  }
  // Not a bundles folder: a bundle folder itself, whose manifest names the version.
  const manifestUrl = `${root}manifest.json`;
  const manifest = await get(manifestUrl, fetchImpl);
  if (!manifest) return undefined;
  if (!manifest.ok)
    throw new BundleLocationError(
      `no edgerec bundle at ${root}: ${latestUrl} answered ${latest.status} and ${manifestUrl} ${manifest.status}`,
      root,
      manifest.status,
    );
  const { version } = parseManifest(await manifest.text(), manifestUrl);
  return { version, baseUrl: root, network: httpBundleSource(root, fetchImpl) };
}
