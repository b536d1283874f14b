import type { BundleLearning, LearningSetting, Metrics } from '../bundle/index.ts';
import type { FeedRunners } from '../feed/index.ts';
import { type LearningCandidate, learningChoiceOf, type Tf } from '../learning/index.ts';
import { learnedVariant } from './learned.ts';
import { type ReplayInput, type ReplayOptions, runReplay } from './replay.ts';

/**
 * The settings a bundle's build scores on its validation window, not learning first (a tie keeps the
 * device from learning). The engine's requests are multi-interest, so every row is `learned+multi` with
 * these settings. In LightGCN's space the server's prior is the fold-in of the user's own history, and
 * learning at weight 1 drops the compact encoder's half of the blend: besides today's built-in default
 * (λ 10, weight 1) the grid has rows that keep the encoder's half (weight 0.5, the blend's weight). Rows
 * tried on the default bundle's validation window and left out as losers (Recall@20 on the build's sample,
 * 200 users, seed 0: off 0.1167, λ 10 0.1298, λ 3 at weight 0.5 0.1336; `npx edgerec replay --models DIR
 * --split valid --max-users 200 --seed 0 --variant learned+multi:l2=30,…`): λ 1 at weight 0.5 0.1272, λ 1
 * with 5 steps at weight 0.5 0.0964 (fewer steps), λ 30 0.1174, λ 10 with hides weighing 16 0.1298 (a
 * stronger pull from the negatives); λ 1 at weight 1 lost on a 500-user sample (0.1299 against 0.1434 for
 * λ 10, docs/replay.md). Each row is replayed on its own, so leaving a row out changes no other row.
 */
export const LEARNING_GRID: readonly LearningCandidate[] = [
  { name: 'off', learn: false },
  { name: 'l2=10', learn: true, options: { l2: 10 } },
  { name: 'l2=10:weight=0.5', learn: true, options: { l2: 10 }, weight: 0.5 },
  { name: 'l2=3:weight=0.5', learn: true, options: { l2: 3 }, weight: 0.5 },
];

/**
 * What the build's choice runs: users sampled from the validation window, the metric it maximises. On the
 * default bundle, 200 users (141 with engaged pins, 320 requests) cost 80.5 CPU-s for five settings (about
 * 0.05 CPU-s per request and setting, measured under heavy load); four settings keep `npm start`'s first
 * build near 131 + 64 CPU-s, under three minutes on two idle cores by estimate (not measured idle).
 */
export const LEARNING_CHOICE_DEFAULTS = { maxUsers: 200, seed: 0, metric: 'Recall@20' } as const;

export interface LearningChoiceOptions extends Pick<ReplayOptions, 'k' | 'candidates' | 'diversity'> {
  grid?: readonly LearningCandidate[];
  maxUsers?: number;
  seed?: number;
  metric?: string;
  onProgress?: (setting: string, done: number, total: number) => void;
}

const round = (m: Record<string, number>): Metrics =>
  Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Math.round(v * 1e6) / 1e6]));

/**
 * Chooses a bundle's on-device learning on the replay of `input` (the validation window): every grid
 * setting replays the same seeded user sample, and the row with the highest `metric` (rounded as the
 * manifest records it; a tie goes to the earlier row) is chosen. Depends on the data, the runners, the
 * grid and the seed only.
 */
export async function chooseLearning(
  input: ReplayInput,
  runners: FeedRunners,
  loadTf: () => Promise<Tf>,
  options: LearningChoiceOptions = {},
): Promise<BundleLearning> {
  const grid = options.grid ?? LEARNING_GRID;
  const { maxUsers, seed, metric } = { ...LEARNING_CHOICE_DEFAULTS, ...definedOnly(options) };
  const variants = grid.map((candidate) =>
    learnedVariant(loadTf, { choice: learningChoiceOf(candidate, 'grid'), multi: {} }, candidate.name),
  );
  const report = await runReplay(input, runners, variants, {
    seed,
    maxUsers,
    k: options.k,
    candidates: options.candidates,
    diversity: options.diversity,
    onProgress: options.onProgress,
  });
  const rows: LearningSetting[] = grid.map((candidate, k) => ({
    ...candidate,
    metrics: round(report.rows[k].metrics),
  }));
  let best = 0;
  for (let k = 1; k < rows.length; k++)
    if ((rows[k].metrics[metric] ?? -Infinity) > (rows[best].metrics[metric] ?? -Infinity)) best = k;
  return {
    chosen: rows[best].name,
    chosenBy: 'validation',
    metric,
    users: report.users,
    requests: report.requests,
    seed,
    grid: rows,
  };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
