import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { BundleManifest, FileRef } from '../../core/bundle/index.ts';
import { validateManifest, versionNameProblem } from '../../core/bundle/index.ts';
import { LATEST_FILE } from '../../train/bundle/publish.ts';

/** File names are single path segments of this shape: no separators, no `..`. Versions follow VERSION_NAME. */
export const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface ManifestView {
  manifest: BundleManifest;
  /** The manifest as served, and its strong ETag (a hash of those bytes). */
  body: string;
  etag: string;
}

/** Every file a manifest lists, by name. */
export function manifestFiles(manifest: BundleManifest): Map<string, FileRef> {
  const files = new Map<string, FileRef>();
  const add = (ref: FileRef | undefined) => ref && files.set(ref.file, ref);
  for (const table of manifest.items) {
    add(table);
    add(table.scales);
  }
  for (const model of [...manifest.rankers, ...manifest.encoders]) add(model);
  add(manifest.catalog);
  return files;
}

const LATEST_TTL_MS = 1000;

/**
 * The model registry over a bundles folder as `edgerec bundle` writes it (`<dir>/latest.json`,
 * `<dir>/<version>/manifest.json` and content-addressed files). Bundles never change once published, so a
 * version's manifest is parsed and validated once; `latest.json` is re-read at most once a second, which
 * picks up a bundle the CLI published beside a running server.
 */
export class Registry {
  readonly dir: string;
  private readonly manifests = new Map<string, ManifestView>();
  private latestCache?: { version: string | undefined; readAt: number };

  constructor(dir: string) {
    this.dir = dir;
  }

  latestVersion(now = Date.now()): string | undefined {
    if (this.latestCache && now - this.latestCache.readAt < LATEST_TTL_MS) return this.latestCache.version;
    let version: string | undefined;
    try {
      const parsed = JSON.parse(readFileSync(join(this.dir, LATEST_FILE), 'utf8')) as { version?: unknown };
      if (typeof parsed.version === 'string' && !versionNameProblem(parsed.version)) version = parsed.version;
    } catch {
      version = undefined;
    }
    this.latestCache = { version, readAt: now };
    return version;
  }

  /** Forgets the cached `latest.json`, after this process published a bundle. */
  invalidate(): void {
    this.latestCache = undefined;
  }

  /** A version's manifest, or undefined when the registry holds no such (valid) bundle. */
  manifest(version: string): ManifestView | undefined {
    if (versionNameProblem(version)) return undefined;
    const cached = this.manifests.get(version);
    if (cached) return cached;
    const file = join(this.dir, version, 'manifest.json');
    if (!existsSync(file)) return undefined;
    const body = readFileSync(file, 'utf8');
    const manifest = validateManifest(JSON.parse(body));
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    const view = { manifest, body, etag };
    this.manifests.set(version, view);
    return view;
  }

  /**
   * The path of a file of a version, only when that version's manifest lists it: a request can never name
   * anything else on disk (the manifest itself, `latest.json`, a staging folder, `../`).
   */
  filePath(version: string, file: string): { path: string; ref: FileRef } | undefined {
    if (!SEGMENT.test(file)) return undefined;
    const view = this.manifest(version);
    const ref = view && manifestFiles(view.manifest).get(file);
    if (!ref) return undefined;
    const path = join(this.dir, version, file);
    return existsSync(path) && statSync(path).isFile() ? { path, ref } : undefined;
  }
}
