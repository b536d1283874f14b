import { createRecommender, type Recommender } from '../sdk/index.ts';
import { Feed } from './feed.ts';
import { Panel } from './panel.ts';
import { demoSession } from './session.ts';

const $ = <T extends Element>(selector: string) => document.querySelector<T>(selector)!;
const status = $<HTMLElement>('#feed-status');
const live = $<HTMLElement>('#announcer');
const announce = (text: string) => {
  live.textContent = text;
};

const DEFAULT_WEIGHTS = { click: 1, closeup: 0.5, save: 2, hide: -4 };

async function start(): Promise<{ recommender: Recommender; feed: Feed }> {
  const serverUrl = location.origin;
  const session = await demoSession(serverUrl);
  const recommender = await createRecommender({
    ...(session
      ? { serverUrl, userId: session.userId, token: session.token }
      : { bundleUrl: '/models/', userId: 'demo-user' }),
    onProgress: (p) => {
      const share = p.total ? ` ${Math.round((100 * (p.loaded ?? 0)) / p.total)}%` : '';
      status.textContent = `${p.phase}${p.file ? ` ${p.file}` : ''}${share}`;
    },
  });
  const panel = new Panel(
    $('#engine-info'),
    $('#sync-info'),
    $('#controls'),
    { weights: DEFAULT_WEIGHTS, diversity: 0.8 },
    (controls) => void feed.reload(controls),
  );
  const feed = new Feed(recommender, $('#feed'), $('#feed-end'), $('#closeup'), panel, announce);
  const refreshStatus = async () => panel.showStatus(await recommender.status());
  $('#sync-now').addEventListener('click', async () => {
    await recommender.sync().catch(() => {});
    await refreshStatus();
  });
  await feed.reload();
  await refreshStatus();
  // Emptied, not removed: its line keeps its height, so the feed under it does not move.
  status.textContent = '';
  setInterval(() => void refreshStatus().catch(() => {}), 2000);
  for (const type of ['online', 'offline'] as const)
    window.addEventListener(type, () => void refreshStatus());
  return { recommender, feed };
}

// The app shell from the cache when the network is gone (the engine keeps the bundle in IndexedDB).
if ('serviceWorker' in navigator) void navigator.serviceWorker.register('/sw.js').catch(() => {});

start()
  .then((app) => {
    // For end-to-end tests and curious users: the feed's order and the recommender.
    Object.assign(window, { edgerec: app });
    document.body.dataset.ready = 'true';
  })
  .catch((error: unknown) => {
    status.textContent = `could not start the recommender: ${error instanceof Error ? error.message : String(error)}`;
    document.body.dataset.ready = 'error';
  });
