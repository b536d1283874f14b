import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { InputError } from '../../core/errors.ts';
import { TokenSigner } from './tokens.ts';

export const SECRET_ENV = 'EDGEREC_SECRET';

/**
 * The token secret: `EDGEREC_SECRET` (hex or base64, ≥ 32 bytes) when set, so several processes share
 * one; else a file generated once with mode 0600 (`<dataDir>/server-secret`), so a restart keeps every
 * issued token valid.
 */
export function loadSecret(file: string, env: NodeJS.ProcessEnv = process.env): Buffer {
  const fromEnv = env[SECRET_ENV];
  if (fromEnv) {
    const bytes = /^[0-9a-f]+$/i.test(fromEnv) ? Buffer.from(fromEnv, 'hex') : Buffer.from(fromEnv, 'base64');
    if (bytes.byteLength < 32)
      throw new InputError(
        `${SECRET_ENV} must hold at least 32 bytes (64 hex digits); it has ${bytes.byteLength}`,
      );
    return bytes;
  }
  if (existsSync(file)) {
    const bytes = Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
    if (bytes.byteLength < 32) throw new InputError(`${file}: the secret must be at least 64 hex digits`);
    return bytes;
  }
  mkdirSync(dirname(file), { recursive: true });
  const secret = TokenSigner.generateSecret();
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${secret.toString('hex')}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  // Two processes starting at once on a fresh folder: the first rename wins, and both then read it.
  if (existsSync(file)) rmSync(tmp, { force: true });
  else renameSync(tmp, file);
  return Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
}
