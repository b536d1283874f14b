import { createRecommender, type Recommendation } from '../sdk/index.ts';

/**
 * The first cut of the demo feed: the default bundle's recommendations, with save and hide wired to the
 * engine so the list re-ranks after each action. The masonry feed and the lab come with the demo issue.
 */
export async function startFeed(list: HTMLOListElement, status: HTMLElement): Promise<void> {
  const recommender = await createRecommender({
    bundleUrl: '/models/',
    userId: 'demo-user',
    onProgress: (p) => {
      status.textContent = `${p.phase}${p.file ? ` ${p.file}` : ''}${p.total ? ` (${Math.round((100 * (p.loaded ?? 0)) / p.total)}%)` : ''}`;
    },
  });
  const act = (item: Recommendation, action: 'save' | 'hide') => async () => {
    await recommender.record({ itemId: item.itemId, action });
    await render();
  };
  const button = (label: string, onClick: () => void) =>
    Object.assign(document.createElement('button'), { type: 'button', textContent: label, onclick: onClick });
  async function render(): Promise<void> {
    const { items, backend, timings, modelVersion } = await recommender.recommend({ k: 24 });
    status.textContent =
      `bundle ${modelVersion} · retrieval ${backend.retrieval}, ranker ${backend.ranker} · ` +
      `${timings.total.toFixed(1)} ms (encode ${timings.encode.toFixed(1)}, retrieve ${timings.retrieve.toFixed(1)}, ` +
      `rank ${timings.rank.toFixed(1)}, rerank ${timings.rerank.toFixed(1)})`;
    list.replaceChildren(
      ...items.map((item) => {
        const li = document.createElement('li');
        const title = Object.assign(document.createElement('strong'), { textContent: item.title });
        const why = Object.assign(document.createElement('small'), {
          textContent: ` ${item.topics.join(', ')} — ${item.reason.text}`,
        });
        li.append(title, why, ' ', button('Save', act(item, 'save')), button('Hide', act(item, 'hide')));
        return li;
      }),
    );
  }
  await render();
}
