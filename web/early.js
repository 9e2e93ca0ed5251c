// early.js — the first thing the page runs (a classic script, first in
// <head>, so it runs while the HTML is still being parsed, before the page's
// modules have arrived or its first layout): it starts the model worker
// (js/worker.js) and tells it, in one message, to start the engine
// (fetch, compile, start its threads) and to load the translation model
// used last from the Origin Private File System. All of that then happens
// in the worker while the page parses, lays itself out and loads its
// modules, which keep the main thread busy for a few hundred milliseconds;
// boot.js and app.js take the worker over (js/index.js load({worker})), and
// the worker recognises the file it has already loaded.
//
// It reads what web/storage.js writes (the index 'atento.store' in
// localStorage, the directory 'atento-models') and what app.js remembers
// ('atento.translate'); should any of it be missing or unreadable, the
// worker only starts its engine and the page loads the model as usual.
(function () {
  'use strict';
  if (typeof Worker !== 'function' || typeof WebAssembly !== 'object') return;
  var q = new URLSearchParams(location.search);
  var threads = Number(q.get('threads')) || 'auto';
  var simd = q.get('simd') === 'simd128' ? 'simd128' : 'auto';
  var url = new URL('../js/worker.js', document.currentScript.src).href;
  var w = null;
  // Under a service worker it starts from a blob: URL that imports
  // js/worker.js (as js/index.js does), so that its imports come from the
  // cache when offline.
  try {
    if (navigator.serviceWorker && navigator.serviceWorker.controller) {
      var blobUrl = URL.createObjectURL(new Blob(['import ' + JSON.stringify(url) + ';\n'], { type: 'text/javascript' }));
      w = new Worker(blobUrl, { type: 'module', name: 'atento' });
      setTimeout(function () { URL.revokeObjectURL(blobUrl); }, 60000);
    }
  } catch (e) {
    w = null;
  }
  try {
    if (!w) w = new Worker(url, { type: 'module', name: 'atento' });
  } catch (e) {
    return;
  }
  var preload = null;
  if (!location.hash || location.hash === '#translate') {
    try {
      var last = JSON.parse(localStorage.getItem('atento.translate') || 'null');
      var index = JSON.parse(localStorage.getItem('atento.store') || '[]');
      for (var i = 0; last && last.key && Array.isArray(index) && i < index.length; i++) {
        var e = index[i];
        if (e && e.where === 'opfs' && typeof e.id === 'string' && Array.isArray(e.keys) && e.keys.indexOf(last.key) >= 0) {
          preload = { dir: 'atento-models', file: e.id };
          break;
        }
      }
    } catch (err) { /* private mode, or an index it cannot read: no preload */ }
  }
  // The compiled engine comes back ({type: 'engine'}) for the page's other
  // workers (boot.js engine()).
  var engine = new Promise(function (resolve) {
    w.addEventListener('message', function on(ev) {
      if (!ev.data || ev.data.type !== 'engine') return;
      w.removeEventListener('message', on);
      resolve(ev.data.module ? ev.data : null);
    });
    w.addEventListener('error', function () { resolve(null); }, { once: true });
  });
  w.postMessage({ type: 'init', start: true, announce: true, threads: threads, simd: simd, preload: preload });
  // for bench/page_first_token.mjs's timeline
  if (performance.mark) performance.mark('atento:worker started');
  // The same file's handle for the page, which names it in its load
  // (js/index.js load(handle)): looked up now, not once the modules are in.
  var handle = null;
  if (preload && navigator.storage && navigator.storage.getDirectory) {
    handle = navigator.storage.getDirectory()
      .then(function (root) { return root.getDirectoryHandle(preload.dir); })
      .then(function (dir) { return dir.getFileHandle(preload.file); })
      .catch(function () { return null; });
  }
  window.atentoEarly = { worker: w, engine: engine, preloaded: preload && preload.file, handle: handle };
})();
