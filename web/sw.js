// sw.js — the atento page's service worker: after the first visit the page,
// its scripts, atento.wasm and the shipped models load with the network off.
//
// Strategy: the app shell (HTML, JS, CSS, the .wasm) is fetched from the
// network when it can be, so a new build shows up at once, and from the cache
// when the network fails. Model files (.gguf) are large and do not change
// under the same name: cache first. Models live in their own cache
// (atento-models-v1, shared with the page's Models panel).
const SHELL = 'atento-shell-v1';
const MODELS = 'atento-models-v1';
const SHELL_FILES = [
  './',
  'index.html',
  'app.js',
  'teach.js',
  'style.css',
  'models.json',
  '../js/index.js',
  '../js/worker.js',
  '../js/core.js',
  '../js/finetune.js',
  '../models/finetune-replay.tsv',
  '../dist/atento.wasm',
  '../dist/atento-mt.wasm',
  '../js/thread.js',
];

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const shell = await caches.open(SHELL);
    // One missing file must not stop the others from being cached.
    await Promise.all(SHELL_FILES.map((f) => shell.add(new Request(f, { cache: 'no-cache' })).catch(() => {})));
    // The shipped models: cached now so that the first offline visit works.
    try {
      const list = await (await fetch('models.json', { cache: 'no-cache' })).json();
      const models = await caches.open(MODELS);
      await Promise.all(list.models.map(async (m) => {
        const url = new URL(m.url, new URL('models.json', self.location.href)).href;
        if (await models.match(url)) return;
        const r = await fetch(url);
        if (r.ok) await models.put(url, r);
      }));
    } catch { /* not available yet: the page stores them when it loads them */ }
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const k of await caches.keys()) if (k.startsWith('atento-') && k !== SHELL && k !== MODELS) await caches.delete(k);
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.endsWith('.gguf')) {
    event.respondWith(modelFirst(req));
  } else {
    event.respondWith(networkFirst(req));
  }
});

async function modelFirst(req) {
  const hit = await caches.match(req.url, { ignoreSearch: true });
  if (hit) return hit;
  const res = await fetch(req);
  return res;
}

async function networkFirst(req) {
  const cache = await caches.open(SHELL);
  try {
    const res = await fetch(req);
    if (res.ok && res.type === 'basic') cache.put(req, res.clone()).catch(() => {});
    return res;
  } catch (e) {
    const hit = (await cache.match(req, { ignoreSearch: true })) || (await caches.match(req, { ignoreSearch: true }));
    if (hit) return hit;
    if (req.mode === 'navigate') {
      const page = await cache.match('index.html');
      if (page) return page;
    }
    return new Response('offline, and this file was never cached\n', { status: 503, headers: { 'Content-Type': 'text/plain' } });
  }
}
