import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { InputError } from '../../core/errors.ts';
import { TokenSigner } from './tokens.ts';

export const SECRET_ENV = 'EDGEREC_SECRET';

/**
 * 32 random bytes hold about 30 distinct byte values; fewer than 16 means a pattern (64 zeros, a repeated
 * word, a counting sequence), which anyone could guess and then forge admin tokens with.
 */
const MIN_DISTINCT_BYTES = 16;

function checkStrength(bytes: Buffer, source: string): Buffer {
  if (bytes.byteLength < 32)
    throw new InputError(`${source} must hold at least 32 bytes (64 hex digits); it has ${bytes.byteLength}`);
  const distinct = new Set(bytes).size;
  if (distinct < MIN_DISTINCT_BYTES)
    throw new InputError(
      `${source} looks guessable: only ${distinct} distinct byte values in ${bytes.byteLength} bytes; use random bytes, e.g. \`openssl rand -hex 32\``,
    );
  return bytes;
}

export interface LoadSecretOptions {
  /**
   * Whether a missing secret file is created (the server's first start) or an error (`edgerec token`:
   * a token signed by a fresh secret would be refused by the server it was meant for).
   */
  create?: boolean;
}

/**
 * The token secret: `EDGEREC_SECRET` (hex or base64, ≥ 32 bytes) when set, so several processes share
 * one; else a file generated once with mode 0600 (`<dataDir>/server-secret`), so a restart keeps every
 * issued token valid. Guessable secrets are refused either way.
 */
export function loadSecret(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
  options: LoadSecretOptions = {},
): Buffer {
  const fromEnv = env[SECRET_ENV];
  if (fromEnv) {
    const bytes = /^[0-9a-f]+$/i.test(fromEnv) ? Buffer.from(fromEnv, 'hex') : Buffer.from(fromEnv, 'base64');
    return checkStrength(bytes, SECRET_ENV);
  }
  if (existsSync(file)) return checkStrength(Buffer.from(readFileSync(file, 'utf8').trim(), 'hex'), file);
  if (options.create === false)
    throw new InputError(
      `no token secret: ${SECRET_ENV} is unset and ${file} does not exist; pass the --data folder the server uses (edgerec serve creates the secret there)`,
    );
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const secret = TokenSigner.generateSecret();
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${secret.toString('hex')}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  // Two processes starting at once on a fresh folder: the first rename wins, and both then read it.
  if (existsSync(file)) rmSync(tmp, { force: true });
  else renameSync(tmp, file);
  return Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
}
