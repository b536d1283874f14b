import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const OUT = join(ROOT, 'test', 'generated', 'readme');

/** The README's TypeScript blocks, with the line each starts on. */
function tsBlocks(markdown: string): { line: number; code: string }[] {
  const blocks: { line: number; code: string }[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== '```ts') continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end].trim() !== '```') end++;
    blocks.push({ line: start + 1, code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return blocks;
}

describe('README examples', () => {
  it('every TypeScript block compiles against the real SDK types', async () => {
    const blocks = tsBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    for (const block of blocks) {
      // Each block is a module of its own (top-level await, no shared names).
      writeFileSync(join(OUT, `readme-line-${block.line}.ts`), `${block.code}\nexport {};\n`);
    }
    writeFileSync(
      join(OUT, 'tsconfig.json'),
      JSON.stringify({
        extends: '../../../tsconfig.json',
        compilerOptions: { paths: { edgerec: ['../../../src/sdk/index.ts'] }, noUnusedLocals: false },
        include: ['*.ts'],
        exclude: [],
      }),
    );
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = await promisify(execFile)('node', [tsc, '-p', join(OUT, 'tsconfig.json'), '--noEmit'], {
      cwd: ROOT,
    }).catch((error: { stdout: string }) => error);
    // tsc names the file (and so the README line) of every error.
    expect(result.stdout.trim()).toBe('');
  }, 180_000);
});
