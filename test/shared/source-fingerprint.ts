/**
 * A fingerprint of the code that computes the test fixtures' reference numbers: every file under `src/`,
 * `test/shared/` and `test/browser/setup/`, by content. Setups that write reference numbers beside a
 * bundle (ONNX outputs, the Node lab, the Node replay) skip the work when the bundle version, this
 * fingerprint and the content of the bundle's folder are those they last wrote — so the unit, server and
 * browser projects of one `npm test` compute them once; a change to the code that computes them, or a test
 * that wrote into the folder since, makes the next setup write them again.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
const FOLDERS = ['src', 'test/shared', 'test/browser/setup'];

export function sourceFingerprint(): string {
  const hash = createHash('sha256');
  const files = FOLDERS.flatMap((folder) =>
    readdirSync(join(ROOT, folder), { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name)),
  ).sort();
  for (const file of files) {
    hash.update(relative(ROOT, file));
    hash.update('\0');
    hash.update(readFileSync(file));
    hash.update('\0');
  }
  return hash.digest('hex');
}

/** Every file under `dir` but `except`, by path and content. */
function folderFingerprint(dir: string, except: string): string {
  const hash = createHash('sha256');
  const files = readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .filter((file) => file !== except)
    .sort();
  for (const file of files)
    hash
      .update(`${relative(dir, file)}\0`)
      .update(readFileSync(file))
      .update('\0');
  return hash.digest('hex');
}

/**
 * Whether `stampFile` says the fixtures in its folder were written for `version` by today's code, and
 * nothing in the folder changed since.
 */
export function fixturesCurrent(stampFile: string, version: string): boolean {
  return existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stampOf(stampFile, version);
}

/** Records that the fixtures in `stampFile`'s folder were written for `version` by today's code. */
export function markFixturesCurrent(stampFile: string, version: string): void {
  writeFileSync(stampFile, stampOf(stampFile, version));
}

const stampOf = (stampFile: string, version: string) =>
  `${version} ${sourceFingerprint()} ${folderFingerprint(dirname(stampFile), stampFile)}\n`;
