/**
 * Assembles kernel.wat into the four checked-in kernel binaries (Node only, needs the `wabt` dev
 * dependency; consumers of the engine never run it). `test/unit/retrieval-cpu.test.ts` regenerates them and
 * compares the bytes, so a change to kernel.wat without regenerating fails the tests.
 *
 *   npx tsx src/engine/retrieval/cpu/gen-kernel.ts          # writes the .wasm files beside this one
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export const KERNEL_VARIANTS = [
  { file: 'kernel-simd.wasm', relaxed: false, shared: false },
  { file: 'kernel-simd-mt.wasm', relaxed: false, shared: true },
  { file: 'kernel-relaxed.wasm', relaxed: true, shared: false },
  { file: 'kernel-relaxed-mt.wasm', relaxed: true, shared: true },
] as const;

const here = (name: string): string => fileURLToPath(new URL(`./${name}`, import.meta.url));

/** The source of one variant: keeps its own @simd / @relaxed sections, sets the memory's sharing. */
export function preprocess(source: string, variant: { relaxed: boolean; shared: boolean }): string {
  const out: string[] = [];
  let keep = true;
  for (const line of source.split('\n')) {
    const marker = line.trim();
    if (marker === ';; @simd') keep = !variant.relaxed;
    else if (marker === ';; @relaxed') keep = variant.relaxed;
    else if (marker === ';; @end') keep = true;
    else if (keep) out.push(line.replace('@shared', variant.shared ? 'shared' : ''));
  }
  return out.join('\n');
}

/** Every variant's bytes, assembled from kernel.wat. */
export async function buildKernels(): Promise<Map<string, Uint8Array>> {
  const wabt = await (await import('wabt')).default();
  const source = await readFile(here('kernel.wat'), 'utf8');
  const out = new Map<string, Uint8Array>();
  for (const variant of KERNEL_VARIANTS) {
    const module = wabt.parseWat('kernel.wat', preprocess(source, variant), {
      simd: true,
      threads: variant.shared,
      relaxed_simd: variant.relaxed,
    });
    // (WasmModule.validate ignores the features given to parseWat and rejects the shared memory; the
    // unit tests compile every binary instead.)
    try {
      out.set(variant.file, module.toBinary({ log: false, write_debug_names: false }).buffer);
    } finally {
      module.destroy();
    }
  }
  return out;
}

async function main(): Promise<void> {
  for (const [file, bytes] of await buildKernels()) {
    await writeFile(here(file), bytes);
    console.log(`${file}: ${bytes.byteLength} bytes`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
