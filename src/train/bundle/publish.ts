import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BundleManifest, FileRef } from '../../core/bundle/index.ts';
import { checkVersionName, validateManifest } from '../../core/bundle/index.ts';

export const LATEST_FILE = 'latest.json';

/** Collects a bundle's files under content-addressed names (`<stem>.<sha256 prefix>.<ext>`). */
export class BundleFiles {
  readonly files = new Map<string, Uint8Array>();

  add(stem: string, ext: string, bytes: Uint8Array): FileRef {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const file = `${stem}.${sha256.slice(0, 12)}.${ext}`;
    this.files.set(file, bytes);
    return { file, bytes: bytes.byteLength, sha256 };
  }

  /** A version id that changes whenever any file does: creation date plus a hash over every file's hash. */
  version(created: Date): string {
    const hash = createHash('sha256');
    for (const name of [...this.files.keys()].sort()) hash.update(name);
    const day = created.toISOString().slice(0, 10).replaceAll('-', '');
    return `${day}-${hash.digest('hex').slice(0, 10)}`;
  }
}

export function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/**
 * Publishes a bundle atomically: every file goes to a staging folder, which is renamed to
 * `<outDir>/<version>` once complete; then `latest.json` is replaced by a rename. A reader sees the old
 * version or the new one, never a half-written folder; a crash leaves only a staging folder behind.
 */
export function publishBundle(outDir: string, manifest: BundleManifest, files: BundleFiles): string {
  validateManifest(JSON.parse(JSON.stringify(manifest)));
  checkVersionName(manifest.version);
  mkdirSync(outDir, { recursive: true });
  const target = join(outDir, manifest.version);
  if (!existsSync(target)) {
    const staging = join(outDir, `.staging-${manifest.version}-${process.pid}`);
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true });
    for (const [name, bytes] of files.files) writeFileSync(join(staging, name), bytes);
    writeFileSync(join(staging, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    renameSync(staging, target);
  }
  writeAtomic(join(outDir, LATEST_FILE), `${JSON.stringify({ version: manifest.version }, null, 2)}\n`);
  return target;
}

/** The version `latest.json` points at, or undefined when the folder holds no bundle. */
export function latestVersion(outDir: string): string | undefined {
  const file = join(outDir, LATEST_FILE);
  if (!existsSync(file)) return undefined;
  const { version } = JSON.parse(readFileSync(file, 'utf8')) as { version?: string };
  return version && existsSync(join(outDir, version, 'manifest.json')) ? version : undefined;
}
