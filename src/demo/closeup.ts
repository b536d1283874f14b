import type { Recommendation } from '../sdk/index.ts';
import { pinArt } from './art.ts';
import { whyText } from './pin.ts';

/**
 * The close-up view: a modal `<dialog>` (focus moves in, Escape closes, focus returns to the pin). Opening
 * it is a `closeup` event; "Visit" is a `click`, the strongest engagement short of a save.
 */
export class CloseupView {
  private readonly dialog: HTMLDialogElement;
  private current?: Recommendation;

  constructor(
    dialog: HTMLDialogElement,
    private readonly onAction: (action: 'click' | 'save' | 'hide', item: Recommendation) => void,
  ) {
    this.dialog = dialog;
    dialog.querySelector('[data-close]')!.addEventListener('click', () => dialog.close());
    dialog.querySelector('[data-visit]')!.addEventListener('click', () => this.act('click'));
    dialog.querySelector('[data-save]')!.addEventListener('click', () => this.act('save'));
    dialog.querySelector('[data-hide]')!.addEventListener('click', () => this.act('hide'));
    dialog.addEventListener('click', (event) => {
      if (event.target === dialog) dialog.close();
    });
  }

  private act(action: 'click' | 'save' | 'hide'): void {
    if (!this.current) return;
    this.onAction(action, this.current);
    if (action !== 'click') this.dialog.close();
  }

  show(item: Recommendation): void {
    this.current = item;
    const art = pinArt(item.itemId, item.topics[0] ?? 'misc');
    const image = this.dialog.querySelector<HTMLImageElement>('img')!;
    image.src = art.url;
    image.width = art.width;
    image.height = art.height;
    this.dialog.querySelector('h2')!.textContent = item.title;
    this.dialog.querySelector('[data-topics]')!.textContent = item.topics.join(' · ');
    this.dialog.querySelector('[data-why]')!.textContent = whyText(item);
    this.dialog.showModal();
  }
}
