/**
 * Global setup of the browser project: the three small bundles its tests serve — `bundle.global.ts` (the
 * PinnerFormer-space bundle, ORT references, lab packs), `lightgcn-bundle.global.ts` and
 * `blend-bundle.global.ts` — each built in a child process, so that the three builds share CI's two cores
 * instead of taking turns on one (each is single-threaded training and export). Each builder returns at
 * once when its folder is already built.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const BUILDERS = ['bundle.global.ts', 'lightgcn-bundle.global.ts', 'blend-bundle.global.ts'];

export default async function setup(): Promise<void> {
  const results = await Promise.allSettled(BUILDERS.map(build));
  const failed = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as Error] : []));
  if (failed.length > 0) throw new Error(failed.map((error) => error.message).join('; '));
}

function build(file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(HERE, 'build-one.ts'), file], {
      stdio: 'inherit',
    });
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`browser setup ${file} exited with ${signal ?? code}`)),
    );
  });
}
