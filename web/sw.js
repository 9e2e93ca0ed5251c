// sw.js — the atento page's service worker: after the first visit the page,
// its scripts and its .wasm modules load with the network off.
//
// It keeps the app shell only (HTML, JS, CSS, the .wasm), fetched from the
// network when it can be, so a new build shows up at once, and from the
// cache when the network fails. Models are not its business: the page
// downloads each one when a tab first needs it and keeps it itself
// (web/storage.js: the Origin Private File System, Cache Storage for small
// files), so no model is ever fetched twice or before it is wanted.
const SHELL = 'atento-shell-v2';
const PAGE_STORE = 'atento-models-v2'; // web/storage.js's cache: not ours to delete
const SHELL_FILES = [
  './',
  'index.html',
  'app.js',
  'boot.js',
  'storage.js',
  'teach.js',
  'style.css',
  'models.json',
  '../js/index.js',
  '../js/worker.js',
  '../js/core.js',
  '../js/options.js',
  '../js/direction.js',
  '../js/bytes.js',
  '../js/finetune.js',
  '../models/finetune-replay.tsv',
  '../dist/atento.wasm',
  '../dist/atento-mt.wasm',
  '../js/thread.js',
];
// The relaxed-SIMD modules (docs/simd.md) where the page runs them: it
// registers sw.js?simd=relaxed when its engine passes relaxedSimdSupported().
// The SIMD128 ones stay in the shell there too (the fallback, ?simd=simd128).
if (new URL(self.location.href).searchParams.get('simd') === 'relaxed') {
  SHELL_FILES.push('../dist/atento-relaxed.wasm', '../dist/atento-mt-relaxed.wasm');
}

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const shell = await caches.open(SHELL);
    // One missing file must not stop the others from being cached.
    await Promise.all(SHELL_FILES.map((f) => shell.add(new Request(f, { cache: 'no-cache' })).catch(() => {})));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const k of await caches.keys()) if (k.startsWith('atento-') && k !== SHELL && k !== PAGE_STORE) await caches.delete(k);
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  // Models (and anything else large) go straight to the network: the page stores them.
  if (url.pathname.endsWith('.gguf') || url.pathname.includes('/stored-model/')) return;
  event.respondWith(networkFirst(req));
});

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
