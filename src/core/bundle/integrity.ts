/**
 * Integrity of bundle files: every file a manifest names is checked against its byte length and SHA-256
 * before anything reads it, in Node and in the browser alike (WebCrypto exists in both).
 */
import { EdgerecError } from '../errors.ts';
import type { FileRef } from './manifest.ts';

/** A file whose bytes are not the ones its manifest entry promises. */
export class IntegrityError extends EdgerecError {
  constructor(
    /** The bundle file that failed the check, as the manifest names it. */
    readonly file: string,
    /** What failed: the length is checked first, as it is free and explains a truncated download. */
    readonly check: 'bytes' | 'sha256',
    /** What the manifest promised: the length in bytes, or the sha256 in hex. */
    readonly expected: number | string,
    /** What was received, in the same unit as `expected`. */
    readonly actual: number | string,
  ) {
    super(
      'BUNDLE_INTEGRITY',
      check === 'bytes'
        ? `${file}: expected ${expected} bytes, got ${actual}`
        : `${file}: sha256 mismatch (expected ${abbreviate(expected)}, got ${abbreviate(actual)}) — ` +
            'the file is corrupt or was tampered with',
    );
    this.name = 'IntegrityError';
  }
}

function abbreviate(hash: number | string): string {
  return `${String(hash).slice(0, 12)}…`;
}

/** Lower-case hex SHA-256 of `bytes`. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  // WebCrypto refuses views of a SharedArrayBuffer; copy those onto a plain ArrayBuffer.
  const data = bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : bytes.slice();
  const digest = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', data));
  let hex = '';
  for (const byte of digest) hex += byte.toString(16).padStart(2, '0');
  return hex;
}

/** Throws an IntegrityError unless `bytes` are exactly the file `ref` describes. */
export async function verifyFile(ref: FileRef, bytes: Uint8Array): Promise<void> {
  if (bytes.byteLength !== ref.bytes)
    throw new IntegrityError(ref.file, 'bytes', ref.bytes, bytes.byteLength);
  const actual = await sha256Hex(bytes);
  if (actual !== ref.sha256) throw new IntegrityError(ref.file, 'sha256', ref.sha256, actual);
}
