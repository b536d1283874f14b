#!/usr/bin/env node
// The CLI runs from TypeScript sources through tsx's loader, so a clone works without a build step.
// Its training dependencies are optional peer dependencies of the package, so that an app embedding only
// the SDK does not install them (tfjs and onnxruntime-node alone are ~570 MB): name them when missing.
import { readFileSync } from 'node:fs';

try {
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import('../src/cli/main.ts');
  process.exitCode = await main(process.argv);
} catch (error) {
  const { peerDependencies } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const missing = Object.keys(peerDependencies).find(
    (name) => error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes(`'${name}'`),
  );
  if (!missing) throw error;
  const install = Object.entries(peerDependencies).map(([name, range]) => `"${name}@${range}"`);
  process.stderr.write(
    `edgerec: the CLI needs ${missing}, which an app embedding only the SDK does not install. Run:\n` +
      `  npm install -D ${install.join(' ')}\n`,
  );
  process.exitCode = 2;
}
