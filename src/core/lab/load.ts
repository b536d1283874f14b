import { verifyFile } from '../bundle/integrity.ts';
import type { BundleSource } from '../bundle/loader.ts';
import { InputError } from '../errors.ts';
import {
  decodeEvalPack,
  type EvalPack,
  LAB_INDEX_FILE,
  type LabIndex,
  type LabSplit,
  parseLabIndex,
} from './pack.ts';

/**
 * Reads `lab/index.json` and the split's pack from a bundle folder, verifying the pack's length and
 * sha256 against the index before decoding it.
 */
export async function loadEvalPack(
  source: BundleSource,
  split: LabSplit,
  onBytes?: (bytes: number) => void,
): Promise<{ index: LabIndex; pack: EvalPack }> {
  const index = parseLabIndex(await source.readText(LAB_INDEX_FILE), `${source.describe()}${LAB_INDEX_FILE}`);
  const entry = index.packs[split];
  if (!entry) {
    const present = Object.keys(index.packs).join(', ') || 'none';
    throw new InputError(
      `${source.describe()}: no ${split} eval pack (present: ${present}); run edgerec lab pack`,
    );
  }
  const ref = { ...entry, file: `lab/${entry.file}` };
  const bytes = await source.readBytes(ref.file);
  onBytes?.(bytes.byteLength);
  await verifyFile(ref, bytes);
  return { index, pack: decodeEvalPack(bytes, ref.file) };
}
