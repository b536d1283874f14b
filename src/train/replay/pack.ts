import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  buildReplayPack,
  hasIgnoredImpressions,
  type ReplayPack,
  replayPackFile,
  replaySample,
} from '../../core/replay/index.ts';
import { resolveBundleDir } from '../lab/source.ts';
import type { PreparedReplay, ReplaySplit } from './run.ts';

/**
 * The replay pack of a prepared replay: the users `edgerec replay --max-users N --seed S` replays, with
 * everything the browser needs to replay them (src/core/replay/pack.ts); written to
 * `<bundle>/lab/replay-<split>.json`. Returns the pack and the file's path.
 */
export function writeReplayPack(
  models: string,
  prepared: PreparedReplay,
  options: { split: ReplaySplit; seed: number; maxUsers: number },
): { pack: ReplayPack; path: string } {
  const { input } = prepared;
  const users = replaySample(input.log, input.numUsers, input.window, options.seed, options.maxUsers);
  const pack = buildReplayPack(input, users, {
    bundle: prepared.bundle.manifest.version,
    split: options.split,
    seed: options.seed,
    maxUsers: options.maxUsers,
    standIns: !hasIgnoredImpressions(input.log, input.model.table.count),
  });
  const path = join(resolveBundleDir(models), replayPackFile(options.split));
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(pack));
  return { pack, path };
}
