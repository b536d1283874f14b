/**
 * A fingerprint of the code that computes the test fixtures' reference numbers: every file under `src/`,
 * `test/shared/` and `test/browser/setup/`, by content. Setups that write reference numbers beside a
 * bundle (ONNX outputs, the Node lab, the Node replay) skip the work when the bundle version and this
 * fingerprint are those they last wrote with — so the unit, server and browser projects of one `npm test`
 * compute them once, and a change to the code that computes them recomputes them.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

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

/** Whether `stampFile` says the fixtures beside it were written for `version` by today's code. */
export function fixturesCurrent(stampFile: string, version: string): boolean {
  return existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stampOf(version);
}

/** Records that the fixtures beside `stampFile` were written for `version` by today's code. */
export function markFixturesCurrent(stampFile: string, version: string): void {
  writeFileSync(stampFile, stampOf(version));
}

const stampOf = (version: string) => `${version} ${sourceFingerprint()}\n`;
