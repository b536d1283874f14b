import { createRecommender, type Recommendation } from 'edgerec';

const [list, backend] = [document.querySelector('ul')!, document.querySelector('output')!];
const recommender = await createRecommender({ bundleUrl: '/models/', userId: 'reader-1' });

function row(item: Recommendation): HTMLLIElement {
  const save = Object.assign(document.createElement('button'), { textContent: 'Save' });
  save.onclick = () => recommender.record({ itemId: item.itemId, action: 'save' }).then(render);
  const li = document.createElement('li');
  li.append(`${item.title} — ${item.reason.text} `, save);
  return li;
}

async function render(): Promise<void> {
  const { items, backend: ran } = await recommender.recommend({ k: 12 });
  const { wasmThreads, learning } = await recommender.status();
  // On-device learning starts a couple of seconds after your first events: its backend, of those that ran.
  const learnt = learning?.backend
    ? `, learning: ${learning.backend} of ${Object.keys(learning.timings ?? {}).join('/')}`
    : '';
  backend.textContent = `retrieval: ${ran.retrieval}, ranker: ${ran.ranker}, wasm threads: ${wasmThreads}${learnt}`;
  list.replaceChildren(...items.map(row));
}
await render();
