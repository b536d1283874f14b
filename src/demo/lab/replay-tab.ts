/**
 * The lab's replay tab: asks the lab worker to replay the bundle's replay pack (the seeded user sample
 * `edgerec replay --write-pack` wrote) and shows variant × Recall@20, NDCG@20, UtilityNDCG@10, HideRate@10.
 */
import { proxy, type Remote } from 'comlink';
import type { LabSplit, LabWorkerApi } from '../../core/lab/index.ts';
import { type NamedVariant, REPLAY_METRICS } from '../../core/replay/index.ts';

const $ = <T extends Element>(selector: string) => document.querySelector<T>(selector)!;

export function setupReplayTab(lab: Remote<LabWorkerApi>, bundleUrl: string): void {
  const form = $<HTMLFormElement>('#replay-form');
  const button = $<HTMLButtonElement>('#replay-run');
  const progress = $<HTMLProgressElement>('#replay-progress');
  const status = $<HTMLParagraphElement>('#replay-status');
  const error = $<HTMLSpanElement>('#replay-form-error');
  const checked = (name: string) =>
    [...form.querySelectorAll<HTMLInputElement>(`input[name="${name}"]:checked`)].map((i) => i.value);
  let running = false;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (running) return;
    const split = (checked('replay-split')[0] ?? 'valid') as LabSplit;
    const variants = checked('replay-variants') as NamedVariant[];
    error.textContent = variants.length ? '' : 'Choose at least one variant.';
    if (!variants.length) return;
    running = true;
    button.disabled = true;
    document.body.dataset.replayState = 'running';
    progress.removeAttribute('value');
    status.textContent = 'starting…';
    try {
      const result = await lab.replay(
        { bundleUrl, split, variants },
        proxy((p) => {
          if (p.phase === 'run' && p.total > 0) {
            progress.max = p.total;
            progress.value = p.done;
            status.textContent = `${p.variant}: ${p.done} / ${p.total} feed requests`;
          } else status.textContent = `loading the ${p.phase}…`;
        }),
      );
      progress.max = 1;
      progress.value = 1;
      status.textContent = `done: ${result.rows.length} variants`;
      $('#replay-summary').textContent =
        `Bundle ${result.bundle}, ${result.split === 'valid' ? 'validation' : 'test'} window (split ${result.split}): ` +
        `a seeded sample of ${result.sampledUsers} users (seed ${result.seed}), ${result.users} with engaged pins to find, ` +
        `${result.requests} feed requests${result.standIns ? ', sampled stand-in impressions' : ''}. ` +
        (result.learning ? `The learning variants ran on tfjs ${result.learning.backend}. ` : '') +
        `The same numbers in Node: ${result.command}.`;
      $('#replay-caption').textContent = `Replay on the ${result.split} window (bundle ${result.bundle})`;
      const table = $<HTMLTableElement>('#replay-table');
      const head = document.createElement('tr');
      for (const name of ['variant', ...REPLAY_METRICS]) {
        const th = document.createElement('th');
        th.scope = 'col';
        th.textContent = name;
        head.append(th);
      }
      table.tHead!.replaceChildren(head);
      table.tBodies[0].replaceChildren(
        ...result.rows.map((row) => {
          const tr = document.createElement('tr');
          const th = document.createElement('th');
          th.scope = 'row';
          th.textContent = row.variant;
          tr.append(th);
          for (const metric of REPLAY_METRICS) {
            const td = document.createElement('td');
            td.textContent = row.metrics[metric].toFixed(4);
            // The full number, for a test or a copy to compare with `edgerec replay --json`.
            td.dataset.value = String(row.metrics[metric]);
            tr.append(td);
          }
          return tr;
        }),
      );
      $<HTMLElement>('#replay-results').hidden = false;
      document.body.dataset.replayState = 'done';
    } catch (failure) {
      progress.max = 1;
      progress.value = 0;
      status.textContent = `failed: ${failure instanceof Error ? failure.message : String(failure)}`;
      document.body.dataset.replayState = 'error';
    } finally {
      running = false;
      button.disabled = false;
    }
  });
}
