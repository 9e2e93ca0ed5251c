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
    // The page itself is requested from the network while this worker
    // starts (it is stopped between visits, and starting it takes tens of
    // milliseconds): networkFirst() takes that response.
    await self.registration.navigationPreload?.enable().catch(() => {});
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
  event.respondWith(networkFirst(req, req.mode === 'navigate' ? event.preloadResponse : undefined));
});

// The shell's cache, opened once per start of this worker; a request does
// not wait for it on its way to the network.
let shellCache = null;
const openShell = () => (shellCache ??= caches.open(SHELL).catch((e) => { shellCache = null; throw e; }));

async function networkFirst(req, preloaded) {
  try {
    const res = (await preloaded?.catch(() => undefined)) || (await fetch(req));
    if (res.ok && res.type === 'basic') {
      const copy = res.clone();
      openShell().then((c) => c.put(req, copy)).catch(() => {});
    }
    return res;
  } catch (e) {
    const cache = await openShell();
    const hit = (await cache.match(req, { ignoreSearch: true })) || (await caches.match(req, { ignoreSearch: true }));
    if (hit) return hit;
    if (req.mode === 'navigate') {
      const page = await cache.match('index.html');
      if (page) return page;
    }
    return new Response('offline, and this file was never cached\n', { status: 503, headers: { 'Content-Type': 'text/plain' } });
  }
}
