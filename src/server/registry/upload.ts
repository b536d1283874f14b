import { createHash } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BundleManifest } from '../../core/bundle/index.ts';
import { checkVersionName, validateManifest } from '../../core/bundle/index.ts';
import { InputError } from '../../core/errors.ts';
import { LATEST_FILE, writeAtomic } from '../../train/bundle/publish.ts';
import { manifestFiles, SEGMENT } from './registry.ts';

/** A request the registry cannot carry out in the state it is in (an HTTP 409). */
export class RegistryConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegistryConflictError';
  }
}

const UPLOAD_PREFIX = '.upload-';
const uploadDir = (dir: string, version: string) => join(dir, `${UPLOAD_PREFIX}${version}`);

/**
 * Removes upload folders that failed publishes left behind, when untouched for `olderThanMs`: a younger one
 * may belong to an upload in flight on another server process sharing the folder. Returns their names.
 */
export function cleanStaleUploads(dir: string, olderThanMs: number, now = Date.now()): string[] {
  if (!existsSync(dir)) return [];
  const removed: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || !entry.name.startsWith(UPLOAD_PREFIX)) continue;
    const path = join(dir, entry.name);
    if (now - statSync(path).mtimeMs < olderThanMs) continue;
    rmSync(path, { recursive: true, force: true });
    removed.push(entry.name);
  }
  return removed;
}

function checkSegment(what: string, value: string): void {
  if (!SEGMENT.test(value))
    throw new InputError(`${what} ${JSON.stringify(value.slice(0, 80))} must match ${SEGMENT.source}`);
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Streams one uploaded file into the version's upload folder (never into a published folder), hashing as
 * it goes; a partial upload stays a `.part` file and is never mistaken for a whole one.
 */
export async function receiveFile(
  dir: string,
  version: string,
  file: string,
  body: Readable,
): Promise<{ file: string; bytes: number; sha256: string }> {
  checkVersionName(version);
  checkSegment('file', file);
  if (file === 'manifest.json') throw new InputError('manifest.json is published, not uploaded');
  if (existsSync(join(dir, version)))
    throw new RegistryConflictError(`bundle ${version} is already published`);
  const staging = uploadDir(dir, version);
  mkdirSync(staging, { recursive: true });
  const part = join(staging, `${file}.part`);
  const hash = createHash('sha256');
  let bytes = 0;
  body.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    bytes += chunk.byteLength;
  });
  try {
    await pipeline(body, createWriteStream(part));
  } catch (error) {
    rmSync(part, { force: true });
    throw error;
  }
  renameSync(part, join(staging, file));
  return { file, bytes, sha256: hash.digest('hex') };
}

/**
 * Publishes an uploaded bundle atomically: checks that every file the manifest lists was uploaded whole
 * (length and sha256), renames the upload folder into place, then replaces `latest.json` by a rename.
 * Publishing the same manifest again is a no-op that re-points `latest.json`; a different manifest under a
 * published version is a conflict.
 */
export async function publishUploaded(dir: string, candidate: unknown): Promise<BundleManifest> {
  const manifest = validateManifest(candidate);
  checkVersionName(manifest.version);
  const body = `${JSON.stringify(manifest, null, 2)}\n`;
  const target = join(dir, manifest.version);
  if (existsSync(target)) {
    const published = validateManifest(JSON.parse(readFileSync(join(target, 'manifest.json'), 'utf8')));
    if (JSON.stringify(published) !== JSON.stringify(manifest))
      throw new RegistryConflictError(
        `bundle ${manifest.version} is already published with another manifest`,
      );
  } else {
    const staging = uploadDir(dir, manifest.version);
    const problems: string[] = [];
    for (const ref of manifestFiles(manifest).values()) {
      const path = join(staging, ref.file);
      if (!existsSync(path)) problems.push(`${ref.file} was not uploaded`);
      else if ((await sha256OfFile(path)) !== ref.sha256)
        problems.push(`${ref.file} does not match its sha256`);
    }
    if (problems.length > 0) {
      // The upload cannot become this bundle: drop it, so that a retry starts clean and no folder lingers.
      rmSync(staging, { recursive: true, force: true });
      throw new InputError(
        `cannot publish ${manifest.version}: ${problems.join('; ')}; upload the files again, then publish`,
      );
    }
    writeAtomic(join(staging, 'manifest.json'), body);
    renameSync(staging, target);
  }
  writeAtomic(join(dir, LATEST_FILE), `${JSON.stringify({ version: manifest.version }, null, 2)}\n`);
  return manifest;
}
