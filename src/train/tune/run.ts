import { InputError } from '../../core/errors.ts';
import { type EvalResult, evaluate, trainingData } from '../../core/eval/harness.ts';
import { evaluateItemToItem, isItemSimilarity } from '../../core/eval/item-to-item.ts';
import type { Recommender } from '../../core/eval/model.ts';
import type { EvalSplit, Protocol } from '../../core/eval/split.ts';
import { type Configuration, expandGrid } from './grid.ts';
import { TUNABLE, type TunableModel } from './models.ts';
import { validationStageOnly } from './validation-split.ts';

export type TuneProtocol = Protocol | 'item2item';

/** The metric a protocol's rows are sorted by unless --metric says otherwise. */
export function defaultMetric(protocol: TuneProtocol): string {
  return protocol === 'temporal' ? 'Recall@10' : 'NDCG@10';
}

export interface TuneOptions {
  model: TunableModel;
  /** Option name → the values to try (see parseGrid). */
  grid: Readonly<Record<string, readonly unknown[]>>;
  /** `item2item` scores related-item retrieval on the leave-last-out (sasrec) split. */
  protocol: TuneProtocol;
  metric?: string;
  /** Seeds model initialisation (seed + 1, as `edgerec eval`), negative and user sampling (seed). */
  seed: number;
  /** Users sampled for each validation check during a fit (early stopping, in-fit choices). */
  validationUsers?: number;
  onProgress?: (event: TuneProgress) => void;
  /** Seconds since some origin; injectable so tests can compare whole outputs byte for byte. */
  clock?: () => number;
}

export interface TuneProgress {
  index: number;
  total: number;
  options: Configuration;
  phase: 'fit' | 'validate' | 'done';
  done?: number;
  of?: number;
  note?: string;
  /** With phase `done`: the row just scored. */
  row?: TuneRow;
}

export interface TuneRow {
  options: Configuration;
  validation: Record<string, number>;
  seconds: number;
}

export interface TuneResult {
  protocol: TuneProtocol;
  model: TunableModel;
  metric: string;
  seed: number;
  /** Best first; ties keep grid order. */
  rows: TuneRow[];
  winner: { options: Configuration; validation: Record<string, number> };
}

const now = () => performance.now() / 1000;

function scoreOnValidation(
  model: Recommender,
  split: EvalSplit,
  protocol: TuneProtocol,
  seed: number,
  sampleUsers?: number,
): EvalResult {
  if (protocol === 'item2item' && !isItemSimilarity(model))
    throw new InputError(
      `--protocol item2item needs a model with item similarities (itemknn, gnn, pinnerformer)`,
    );
  const result =
    protocol === 'item2item' && isItemSimilarity(model)
      ? evaluateItemToItem(model, split, 'valid', { seed, sampleUsers })
      : evaluate(model, split, 'valid', { seed, sampleUsers });
  if (result.users === 0)
    throw new InputError(`no user has both history and a validation target under the ${protocol} protocol`);
  return result;
}

/**
 * Grid search on the validation stage: every configuration is fitted on the training part (with early
 * stopping on a seeded sample of validation users) and scored on all validation users. The split handed to
 * models and scorers has no test stage (validationStageOnly), so nothing here can read test targets.
 */
export async function tune(split: EvalSplit, options: TuneOptions): Promise<TuneResult> {
  const { model: name, protocol, seed } = options;
  const spec = TUNABLE[name];
  if (protocol === 'item2item' ? split.protocol !== 'sasrec' : split.protocol !== protocol)
    throw new Error(
      `tune: --protocol ${protocol} needs the ${protocol === 'item2item' ? 'sasrec' : protocol} split`,
    );
  const view = validationStageOnly(split);
  const metric = options.metric ?? defaultMetric(protocol);
  const clock = options.clock ?? now;
  const configurations = expandGrid(options.grid);
  // Every configuration is constructed before any is fitted (models are cheap to construct), so options
  // that do not fit together, or a model without item similarities, are refused before hours of rows.
  const models = configurations.map((configuration) => spec.create(configuration, seed + 1));
  if (protocol === 'item2item' && !isItemSimilarity(models[0]))
    throw new InputError(
      `--protocol item2item needs a model with item similarities (itemknn, gnn, pinnerformer), not ${name}`,
    );
  const rows: TuneRow[] = [];
  for (const [index, configuration] of configurations.entries()) {
    const report = (event: Omit<TuneProgress, 'index' | 'total' | 'options'>) =>
      options.onProgress?.({ index, total: configurations.length, options: configuration, ...event });
    const started = clock();
    const model = models[index];
    let checks = 0;
    await model.fit(trainingData(view), {
      onProgress: (done, of, note) => report({ phase: 'fit', done, of, note }),
      validate: () => {
        checks++;
        const value = scoreOnValidation(model, view, protocol, seed, options.validationUsers ?? 2000).metrics[
          metric
        ];
        if (value === undefined) throw new InputError(`--metric ${metric} is not a metric of ${protocol}`);
        return value;
      },
    });
    report({ phase: 'validate', note: checks > 0 ? `${checks} validation checks during fit` : undefined });
    const { metrics } = scoreOnValidation(model, view, protocol, seed);
    if (!(metric in metrics))
      throw new InputError(
        `--metric ${metric} is not a metric of ${protocol} (one of: ${Object.keys(metrics).join(', ')})`,
      );
    const row = { options: configuration, validation: metrics, seconds: round(clock() - started, 2) };
    rows.push(row);
    report({ phase: 'done', row });
  }
  const order = rows.map((row, index) => ({ row, index }));
  order.sort((a, b) => b.row.validation[metric] - a.row.validation[metric] || a.index - b.index);
  const sorted = order.map(({ row }) => row);
  return {
    protocol,
    model: name,
    metric,
    seed,
    rows: sorted,
    winner: { options: sorted[0].options, validation: sorted[0].validation },
  };
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
