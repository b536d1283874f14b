import type { Recommender } from '../sdk/index.ts';
import { CloseupView } from './closeup.ts';
import { Masonry } from './masonry.ts';
import type { Controls, Panel } from './panel.ts';
import { type PinAction, pinElement } from './pin.ts';
import type { Recommendation } from './types.ts';

const PAGE = 24;

/**
 * The feed: a masonry grid of ranked pins, more on scroll, and a re-rank after every action. A re-rank
 * keeps every pin up to the one acted on and replaces those after it, so what the user is looking at never
 * jumps; the new pins arrive in one DOM swap once the worker answers, and the page stays responsive
 * meanwhile (the engine runs off the main thread).
 */
export class Feed {
  private pins: Recommendation[] = [];
  private readonly saved = new Set<string>();
  private readonly impressed = new Set<string>();
  private readonly masonry: Masonry;
  private readonly closeup: CloseupView;
  private readonly impressions: IntersectionObserver;
  private readonly more: IntersectionObserver;
  private controls: Controls;
  /** Serialises re-ranks and page loads, so results never land out of order. */
  private queue: Promise<void> = Promise.resolve();
  private loading = false;
  private reranks = 0;

  constructor(
    private readonly recommender: Recommender,
    grid: HTMLElement,
    sentinel: HTMLElement,
    dialog: HTMLDialogElement,
    private readonly panel: Panel,
    private readonly announce: (text: string) => void,
  ) {
    this.masonry = new Masonry(grid);
    this.controls = panel.controls();
    this.closeup = new CloseupView(dialog, (action, item) => this.act(action, item));
    this.impressions = new IntersectionObserver((entries) => this.onVisible(entries), { threshold: 0.5 });
    this.more = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting)) this.loadMore();
      },
      { rootMargin: '600px' },
    );
    this.more.observe(sentinel);
  }

  /** Counts finished re-ranks on the page (`body[data-reranks]`), so a test or a tool can wait for one. */
  private settled(): void {
    document.body.dataset.reranks = String(++this.reranks);
  }

  private run(task: () => Promise<void>): Promise<void> {
    this.queue = this.queue.then(task).catch((error: unknown) => {
      this.announce(`something went wrong: ${error instanceof Error ? error.message : String(error)}`);
    });
    return this.queue;
  }

  private async recommend(k: number, exclude: string[]): Promise<Recommendation[]> {
    const result = await this.recommender.recommend({
      k,
      exclude,
      weights: this.controls.weights,
      diversity: this.controls.diversity,
    });
    this.panel.showResult(result);
    return result.items;
  }

  private elementFor(item: Recommendation, rank: number) {
    const pin = pinElement(item, rank, this.saved.has(item.itemId), (action, it) => this.onPin(action, it));
    this.impressions.observe(pin.element);
    return pin;
  }

  /** The first page, or everything again after the sliders moved. */
  reload(controls?: Controls): Promise<void> {
    if (controls) this.controls = controls;
    return this.run(async () => {
      this.pins = await this.recommend(Math.max(PAGE, this.pins.length), []);
      this.masonry.replaceFrom(
        0,
        this.pins.map((item, rank) => this.elementFor(item, rank)),
      );
      this.announce(`feed re-ranked: ${this.pins.length} pins`);
      this.settled();
    });
  }

  loadMore(): Promise<void> {
    if (this.loading) return this.queue;
    this.loading = true;
    return this.run(async () => {
      const next = await this.recommend(
        PAGE,
        this.pins.map((p) => p.itemId),
      );
      const start = this.pins.length;
      this.pins.push(...next);
      for (const [n, item] of next.entries()) {
        const pin = this.elementFor(item, start + n);
        this.masonry.add(pin.element, pin.aspect);
      }
      this.settled();
    }).finally(() => {
      this.loading = false;
    });
  }

  private onPin(action: PinAction, item: Recommendation): void {
    if (action === 'open') {
      this.closeup.show(item);
      void this.act('closeup', item);
    } else void this.act(action, item);
  }

  /** Records the action, then re-ranks everything after the pin (a hidden pin leaves at once). */
  private act(action: 'click' | 'closeup' | 'save' | 'hide', item: Recommendation): Promise<void> {
    if (action === 'save') this.saved.add(item.itemId);
    if (action === 'hide') {
      const element = this.elementOf(item.itemId);
      if (element) this.masonry.remove(element);
    }
    if (action === 'save') {
      const button = this.elementOf(item.itemId)?.querySelector<HTMLButtonElement>('.pin-save');
      if (button) {
        button.textContent = 'Saved';
        button.setAttribute('aria-pressed', 'true');
      }
    }
    return this.run(async () => {
      await this.recommender.record({ itemId: item.itemId, action, surface: 'feed' });
      const at = this.pins.findIndex((p) => p.itemId === item.itemId);
      if (at < 0) return;
      const keep = this.pins.slice(0, at + 1).filter((p) => !(action === 'hide' && p.itemId === item.itemId));
      const rest = await this.recommend(
        Math.max(PAGE, this.pins.length - keep.length),
        keep.map((p) => p.itemId),
      );
      this.pins = [...keep, ...rest];
      this.masonry.replaceFrom(
        keep.length,
        rest.map((it, n) => this.elementFor(it, keep.length + n)),
      );
      this.announce(`${action === 'hide' ? 'hidden' : `${action} recorded`}; the feed below re-ranked`);
      this.settled();
    });
  }

  private elementOf(itemId: string): HTMLElement | undefined {
    return document.querySelector<HTMLElement>(`.pin[data-item-id="${CSS.escape(itemId)}"]`) ?? undefined;
  }

  /** An impression is a pin at least half on screen, once per pin per session. */
  private onVisible(entries: IntersectionObserverEntry[]): void {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      const itemId = (entry.target as HTMLElement).dataset.itemId!;
      this.impressions.unobserve(entry.target);
      if (this.impressed.has(itemId)) continue;
      this.impressed.add(itemId);
      void this.recommender.record({ itemId, action: 'impression', surface: 'feed' }).catch(() => {});
    }
  }

  /** Item ids in feed order, for tests and the status line. */
  get itemIds(): string[] {
    return this.pins.map((p) => p.itemId);
  }
}
