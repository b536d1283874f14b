/** Runs one of the browser project's bundle builders (`bundles.global.ts` starts one of these per bundle). */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const file = process.argv[2];
if (!file) throw new Error('usage: build-one.ts <setup file of test/browser/setup/>');
const builder = (await import(pathToFileURL(join(import.meta.dirname, file)).href)) as {
  default: () => Promise<void>;
};
await builder.default();
