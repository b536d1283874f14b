/**
 * What the engine needs to load its models, in a chunk of its own that init() imports rather than the
 * worker at start: the worker's start-up JS has a size budget (test/package/sizes.ts).
 */
import type { ModelEntry } from '../../core/bundle/index.ts';
import type { EngineStorage } from '../storage/index.ts';
import { type ChoiceRole, choiceKey, rememberChoice, rememberedChoice } from './choice.ts';
import { type Candidate, fastestSession, type ModelSession } from './session.ts';

export { FeedScratch } from './scratch.ts';

/**
 * The session of `role`: the variant an earlier start on this device timed fastest, loaded alone
 * (choice.ts), else the fastest of `candidates`, timed now and remembered.
 */
export async function chooseSession(
  storage: EngineStorage,
  role: ChoiceRole,
  version: string,
  threads: number,
  candidates: Candidate[],
  load: (entry: ModelEntry) => Promise<Uint8Array>,
  batch: number,
  output: string,
): Promise<ModelSession> {
  const key = choiceKey(version, batch, threads, candidates);
  const remembered = await rememberedChoice(storage, role, key);
  const result = await fastestSession(candidates, load, batch, output, 3, remembered);
  if (!result.remembered) await rememberChoice(storage, role, key, result.label);
  return result.session;
}
