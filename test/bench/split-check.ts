import { historyFor, type Stage } from '../../src/core/eval/harness.ts';
import type { EvalSplit } from '../../src/core/eval/split.ts';

/**
 * Exits 1 with one line when no user can be scored on one of `stages` (none has both a history and a held-out
 * item there): the data set is too small for the protocol, and every metric of the table would be missing.
 */
export function requireScorableUsers(script: string, split: EvalSplit, stages: readonly Stage[]): void {
  for (const stage of stages) {
    const history = historyFor(split, stage);
    const targets = stage === 'valid' ? split.valid : split.test;
    let users = 0;
    for (let u = 0; u < split.numUsers; u++)
      if (targets.offsets[u + 1] > targets.offsets[u] && history.offsets[u + 1] > history.offsets[u]) users++;
    if (users === 0) {
      process.stderr.write(
        `${script}: none of the ${split.numUsers} users can be scored on the ${stage} stage of the ${split.protocol} protocol (${split.description}): too little data\n`,
      );
      process.exit(1);
    }
  }
}
