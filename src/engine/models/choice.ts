import type { EngineStorage } from '../storage/index.ts';
import { type Candidate, candidateLabel } from './session.ts';

/**
 * The variant a start chose by timing (fastestSession), remembered in IndexedDB so that the next start on
 * this device skips the timing — the largest share of a cold start. The choice holds for what it was timed
 * on: the bundle version, the batch, the browser (user agent), its cores and ORT's threads, and the
 * candidates offered (WebGPU among them or not); any change and the candidates are timed again.
 */
interface RememberedChoice {
  key: string;
  label: string;
}

export type ChoiceRole = 'ranker' | 'encoder';

const metaKey = (role: ChoiceRole) => `variant-choice:${role}`;

export function choiceKey(version: string, batch: number, threads: number, candidates: Candidate[]): string {
  const nav = globalThis.navigator;
  return JSON.stringify([
    version,
    batch,
    nav?.userAgent ?? '',
    nav?.hardwareConcurrency ?? 0,
    threads,
    candidates.map(candidateLabel),
  ]);
}

/** The label chosen under `key` before, if that is what is stored (a failed read counts as none). */
export async function rememberedChoice(
  storage: EngineStorage,
  role: ChoiceRole,
  key: string,
): Promise<string | undefined> {
  const stored = await storage.meta<RememberedChoice>(metaKey(role)).catch(() => undefined);
  return stored?.key === key ? stored.label : undefined;
}

/** Stores the choice (one per role: the last one timed); a failed write only costs the next start a timing. */
export async function rememberChoice(
  storage: EngineStorage,
  role: ChoiceRole,
  key: string,
  label: string,
): Promise<void> {
  await storage.setMeta(metaKey(role), { key, label } satisfies RememberedChoice).catch(() => {});
}
