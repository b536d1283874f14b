import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../../core/errors.ts';
import {
  checkSupported,
  type Feeds,
  maxAbsDiff,
  type Outputs,
  parseFeeds,
  type QuantizeOptions,
  quantizeOnnx,
  randomFeeds,
  readModel,
  runModel,
  variantName,
} from '../../train/onnx/index.ts';
import { nonNegativeInteger, positiveInteger } from '../options.ts';
import { Progress } from '../progress.ts';
import { formatTable, printJson } from '../report.ts';

const VARIANTS: QuantizeOptions[] = [
  { dtype: 'fp16' },
  { dtype: 'int8', form: 'dq' },
  { dtype: 'int8', form: 'qdq' },
];

interface VariantReport {
  dtype: 'fp32' | 'fp16' | 'int8';
  form?: 'dq' | 'qdq';
  file: string;
  bytes: number;
  sha256: string;
  /** bytes / the fp32 model's bytes */
  ratio: number;
  /** max |output − fp32 output| over every output of every calibration run */
  maxAbsDiff: number;
}

/** Prefixes an InputError with the file it is about, so the one stderr line names it. */
async function about<T>(file: string, work: () => T | Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof InputError) throw new InputError(`${file}: ${error.message}`);
    throw error;
  }
}

function readCalibration(file: string, model: ReturnType<typeof readModel>): Feeds[] {
  if (!existsSync(file)) throw new InputError(`${file}: no such file`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new InputError(`${file}: not valid JSON (${error instanceof Error ? error.message : error})`);
  }
  return parseFeeds(json, model, file);
}

/** `foo.onnx` and `foo.fp32.onnx` both name their variants `foo.<variant>.onnx`. */
function stemOf(path: string): string {
  return basename(path)
    .replace(/\.onnx$/i, '')
    .replace(/\.fp32$/i, '');
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

export function registerQuantizeCommand(program: Command): void {
  program
    .command('quantize')
    .description('write fp16, int8 (dq) and int8 (qdq) variants of an fp32 ONNX model and compare them')
    .argument('<model>', 'an fp32 .onnx model (any graph of the supported ops)')
    .option('--out <dir>', 'folder for the variants (default: beside the model)')
    .option(
      '--calibration <file>',
      'calibration inputs as JSON: [{"<input>": {"dims": [...], "data": [...]}}, ...]; needed for int64 inputs',
    )
    .option(
      '--samples <n>',
      'without --calibration: rows of seeded standard-normal inputs',
      positiveInteger,
      256,
    )
    .option('--seed <n>', 'seed of the random calibration inputs', nonNegativeInteger, 0)
    .option('--json', 'print exactly one JSON object on stdout')
    .option('--quiet', 'no progress bars')
    .action(async (modelPath: string, options) => {
      if (!existsSync(modelPath) || !statSync(modelPath).isFile())
        throw new InputError(`${modelPath}: no such file`);
      const progress = new Progress(!options.quiet);
      const fp32 = new Uint8Array(readFileSync(modelPath));
      const model = await about(modelPath, () => {
        const decoded = readModel(fp32);
        checkSupported(decoded);
        return decoded;
      });
      const feeds: Feeds[] = options.calibration
        ? readCalibration(options.calibration, model)
        : await about(modelPath, () => randomFeeds(model, options.samples, options.seed));

      const outDir: string = options.out ?? dirname(modelPath);
      mkdirSync(outDir, { recursive: true });
      const task = progress.task('quantize', 'variants');
      task.update(0, VARIANTS.length + 1);
      let reference: Outputs[];
      try {
        reference = await runModel(fp32, feeds);
      } catch (error) {
        // The graph passed our checks but onnxruntime refuses it (types, shapes): still the caller's model.
        const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
        throw new InputError(`${modelPath}: onnxruntime cannot run it: ${message}`);
      }
      const variants: VariantReport[] = [
        {
          dtype: 'fp32',
          file: modelPath,
          bytes: fp32.length,
          sha256: sha256(fp32),
          ratio: 1,
          maxAbsDiff: 0,
        },
      ];
      task.update(1);
      for (const [index, variant] of VARIANTS.entries()) {
        const settings: QuantizeOptions =
          variant.dtype === 'int8' ? { ...variant, calibration: feeds } : variant;
        const bytes = await about(modelPath, () => quantizeOnnx(fp32, settings));
        const file = join(outDir, `${stemOf(modelPath)}.${variantName(variant)}.onnx`);
        writeFileSync(file, bytes);
        variants.push({
          dtype: variant.dtype,
          ...(variant.dtype === 'int8' ? { form: variant.form } : {}),
          file,
          bytes: bytes.length,
          sha256: sha256(bytes),
          ratio: Math.round((bytes.length / fp32.length) * 1e4) / 1e4,
          maxAbsDiff: maxAbsDiff(reference, await runModel(bytes, feeds)),
        });
        task.update(index + 2);
      }
      task.finish();

      const rows = feeds.reduce((n, feed) => n + (Object.values(feed)[0]?.dims[0] ?? 1), 0);
      const calibration = options.calibration
        ? { source: options.calibration as string, runs: feeds.length }
        : { source: 'random-normal', runs: feeds.length, samples: options.samples, seed: options.seed };
      if (options.json) {
        printJson({ model: modelPath, calibration, variants });
        return;
      }
      process.stdout.write(
        `${modelPath}: ${model.graph!.node!.length} nodes; errors measured on ${rows} rows ` +
          `(${options.calibration ? options.calibration : `seeded normal inputs, seed ${options.seed}`})\n\n` +
          formatTable(
            ['variant', 'file', 'bytes', 'ratio', 'max |diff|', 'sha256'],
            variants.map((v) => [
              v.form ? `${v.dtype}-${v.form}` : v.dtype,
              v.file,
              String(v.bytes),
              v.ratio.toFixed(3),
              v.maxAbsDiff.toExponential(2),
              v.sha256.slice(0, 16),
            ]),
          ),
      );
    });
}
