import type { EngineStatus, RankerWeights, RecommendResult } from './types.ts';

const HEADS = ['click', 'closeup', 'save', 'hide'] as const;

export interface Controls {
  weights: RankerWeights;
  diversity: number;
}

function row(list: HTMLElement, term: string, value: string): void {
  const dt = document.createElement('dt');
  dt.textContent = term;
  const dd = document.createElement('dd');
  dd.textContent = value;
  list.append(dt, dd);
}

const ms = (x: number) => `${x.toFixed(1)} ms`;

/** The side panel: what ran, how long it took, the sync state, and the utility sliders. */
export class Panel {
  private last?: RecommendResult;
  private status?: EngineStatus;

  constructor(
    private readonly engineList: HTMLElement,
    private readonly syncList: HTMLElement,
    private readonly form: HTMLFormElement,
    defaults: Controls,
    onChange: (controls: Controls) => void,
  ) {
    for (const input of form.querySelectorAll<HTMLInputElement>('input[type=range]')) {
      const name = input.name as (typeof HEADS)[number] | 'diversity';
      input.value = String(name === 'diversity' ? defaults.diversity : defaults.weights[name]);
      const output = form.querySelector<HTMLOutputElement>(`output[for=${input.id}]`)!;
      output.value = Number(input.value).toFixed(2);
      input.addEventListener('input', () => {
        output.value = Number(input.value).toFixed(2);
      });
      input.addEventListener('change', () => onChange(this.controls()));
    }
  }

  controls(): Controls {
    const value = (name: string) =>
      Number(this.form.querySelector<HTMLInputElement>(`input[name=${name}]`)!.value);
    return {
      weights: Object.fromEntries(HEADS.map((h) => [h, value(h)])) as RankerWeights,
      diversity: value('diversity'),
    };
  }

  showResult(result: RecommendResult): void {
    this.last = result;
    this.render();
  }

  showStatus(status: EngineStatus): void {
    this.status = status;
    this.render();
  }

  private render(): void {
    const { last, status } = this;
    this.engineList.replaceChildren();
    if (status?.ready) {
      row(this.engineList, 'model version', status.modelVersion ?? '—');
      row(this.engineList, 'item table', `${status.dtype} · ${status.items} items`);
      row(this.engineList, 'ranker', status.rankerVariant ?? '—');
    }
    if (last) {
      const b = last.backend;
      row(this.engineList, 'backend', `retrieval ${b.retrieval} · ranker ${b.ranker} · encoder ${b.encoder}`);
      const t = last.timings;
      row(this.engineList, 'last re-rank', ms(t.total));
      row(
        this.engineList,
        'stages',
        `encode ${ms(t.encode)} · retrieve ${ms(t.retrieve)} · rank ${ms(t.rank)} · rerank ${ms(t.rerank)}`,
      );
    }
    const learning = status?.learning;
    if (learning && learning.state !== 'off') {
      row(
        this.engineList,
        'learning',
        `${learning.state}${learning.backend ? ` on tfjs ${learning.backend}` : ''} · ${learning.runs} runs · ${learning.steps} steps`,
      );
      if (learning.loss !== undefined && learning.initialLoss !== undefined)
        row(
          this.engineList,
          'last loss',
          `${learning.initialLoss.toFixed(3)} → ${learning.loss.toFixed(3)} (${learning.positives} positives, ${learning.negatives} negatives)`,
        );
      if (learning.lastFallback) row(this.engineList, 'learning fallback', learning.lastFallback);
      if (learning.lastError) row(this.engineList, 'learning error', learning.lastError);
    }
    this.syncList.replaceChildren();
    if (status) {
      row(this.syncList, 'network', status.online ? 'online' : 'offline');
      row(this.syncList, 'sync', status.sync.state + (status.sync.privacy ? ' (privacy mode)' : ''));
      row(this.syncList, 'pending events', String(status.pendingEvents));
      row(
        this.syncList,
        'last sync',
        status.sync.lastSyncAt ? new Date(status.sync.lastSyncAt).toLocaleTimeString() : 'not yet',
      );
      if (status.sync.lastError) row(this.syncList, 'last error', status.sync.lastError);
    }
  }
}
