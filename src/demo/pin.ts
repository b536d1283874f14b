import type { Recommendation } from '../sdk/index.ts';
import { pinArt } from './art.ts';

export type PinAction = 'open' | 'save' | 'hide';

const HEADS = ['click', 'closeup', 'save', 'hide'] as const;

function button(label: string, className: string, onClick: () => void): HTMLButtonElement {
  const element = document.createElement('button');
  element.type = 'button';
  element.className = className;
  element.textContent = label;
  element.addEventListener('click', (event) => {
    event.stopPropagation();
    onClick();
  });
  return element;
}

/** Why the pin is here, in words and in the ranker's numbers: shown on hover and on keyboard focus. */
export function whyText(item: Recommendation): string {
  const odds = HEADS.map((h) => `${h} ${(100 * item.probabilities[h]).toFixed(1)}%`).join(' · ');
  return `${item.reason.text}. Utility ${item.utility.toFixed(3)} (${odds})`;
}

/**
 * One pin: its art (sized before it loads), title, and the save / hide buttons. Opening it (click, Enter)
 * shows the close-up view. Everything is a real button or link, so the feed works from the keyboard.
 */
export function pinElement(
  item: Recommendation,
  rank: number,
  saved: boolean,
  onAction: (action: PinAction, item: Recommendation) => void,
): { element: HTMLElement; aspect: number } {
  const topic = item.topics[0] ?? 'misc';
  const art = pinArt(item.itemId, topic);
  const element = document.createElement('article');
  element.className = 'pin';
  element.dataset.itemId = item.itemId;
  element.dataset.topic = topic;
  element.dataset.rank = String(rank);

  const open = document.createElement('button');
  open.type = 'button';
  open.className = 'pin-open';
  open.setAttribute('aria-label', `Open ${item.title} (${item.topics.join(', ')})`);
  const image = document.createElement('img');
  image.src = art.url;
  image.width = art.width;
  image.height = art.height;
  image.alt = '';
  image.decoding = 'async';
  open.append(image);
  open.addEventListener('click', () => onAction('open', item));

  const title = document.createElement('h3');
  title.className = 'pin-title';
  title.textContent = item.title;

  const why = document.createElement('p');
  why.className = 'pin-why';
  why.id = `why-${item.itemId}`;
  why.textContent = whyText(item);
  open.setAttribute('aria-describedby', why.id);

  const save = button(saved ? 'Saved' : 'Save', 'pin-save', () => onAction('save', item));
  save.setAttribute('aria-pressed', String(saved));
  save.setAttribute('aria-label', `Save ${item.title}`);
  const hide = button('Hide', 'pin-hide', () => onAction('hide', item));
  hide.setAttribute('aria-label', `Hide ${item.title}`);
  const actions = document.createElement('div');
  actions.className = 'pin-actions';
  actions.append(save, hide);

  const topics = document.createElement('p');
  topics.className = 'pin-topics';
  topics.textContent = item.topics.join(' · ');
  topics.style.setProperty('--hue', String(art.hue));

  element.append(open, why, title, topics, actions);
  return { element, aspect: art.height / art.width };
}
