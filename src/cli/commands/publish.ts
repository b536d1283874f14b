import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Command } from 'commander';
import { checkVersionName, validateManifest } from '../../core/bundle/index.ts';
import { InputError } from '../../core/errors.ts';
import { manifestFiles } from '../../server/registry/index.ts';
import { Progress } from '../progress.ts';

export const ADMIN_TOKEN_ENV = 'EDGEREC_ADMIN_TOKEN';

async function check(response: Response, what: string): Promise<void> {
  if (response.ok) return;
  const body = (await response.json().catch(() => ({}))) as { message?: string };
  throw new InputError(`${what}: HTTP ${response.status}: ${body.message ?? response.statusText}`);
}

/** `edgerec publish`: uploads a bundle folder to a running server, which then switches to it atomically. */
export function registerPublishCommand(program: Command): void {
  program
    .command('publish')
    .description('upload a bundle folder (models/<version>) to a sync server and make it the latest')
    .argument('<bundle-dir>', 'a folder holding manifest.json and its files')
    .requiredOption('--server <url>', 'the server, e.g. http://127.0.0.1:8787')
    .option('--token <token>', `an admin token (default: $${ADMIN_TOKEN_ENV})`)
    .option('--quiet', 'no progress bar')
    .action(async (dir: string, options) => {
      const token = options.token ?? process.env[ADMIN_TOKEN_ENV];
      if (!token)
        throw new InputError(`pass --token or set ${ADMIN_TOKEN_ENV} (edgerec token --admin --user <name>)`);
      const manifestPath = join(dir, 'manifest.json');
      if (!existsSync(manifestPath)) throw new InputError(`${dir} holds no manifest.json`);
      const manifest = validateManifest(JSON.parse(readFileSync(manifestPath, 'utf8')), manifestPath);
      checkVersionName(manifest.version, `${manifestPath}: version`);
      const base = new URL(`/v1/admin/bundles/${encodeURIComponent(manifest.version)}/`, options.server);
      const headers = { authorization: `Bearer ${token}` };
      const files = [...manifestFiles(manifest).values()];
      const total = files.reduce((sum, ref) => sum + statSync(join(dir, ref.file)).size, 0);
      const progress = new Progress(!options.quiet).task('upload', 'bytes');
      let sent = 0;
      for (const ref of files) {
        const response = await fetch(new URL(`files/${encodeURIComponent(ref.file)}`, base), {
          method: 'PUT',
          headers: { ...headers, 'content-type': 'application/octet-stream' },
          body: Readable.toWeb(createReadStream(join(dir, ref.file))) as ReadableStream,
          duplex: 'half',
        } as RequestInit);
        await check(response, `upload of ${ref.file}`);
        sent += ref.bytes;
        progress.update(sent, total);
      }
      progress.finish();
      const published = await fetch(new URL('publish', base), {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify(manifest),
      });
      await check(published, `publishing ${manifest.version}`);
      process.stdout.write(`published ${manifest.version} to ${options.server}\n`);
    });
}
