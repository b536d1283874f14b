// The demo's app shell offline: network first for same-origin GETs (so a deploy is picked up at once),
// the last good copy when the network is gone. The API and the bundle are not cached here: the engine
// keeps the bundle in IndexedDB, verified by hash, and its event outbox there too.
const CACHE = 'edgerec-shell-v1';

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('fetch', (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith('/v1/') || url.pathname.startsWith('/models/') || url.pathname === '/healthz')
    return;
  event.respondWith(
    (async () => {
      const cache = await caches.open(CACHE);
      try {
        const response = await fetch(request);
        // A full cache only means no offline copy of this file: never a failed load.
        if (response.status === 200) await cache.put(request, response.clone()).catch(() => {});
        return response;
      } catch (error) {
        // The preview server varies on Origin (CORS) and a worker's request carries none; files are
        // content-addressed, so one copy per URL is right.
        const cached =
          (await cache.match(request, { ignoreVary: true })) ??
          (request.mode === 'navigate' ? await cache.match('/') : undefined);
        if (cached) return cached;
        throw error;
      }
    })(),
  );
});
