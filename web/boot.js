// boot.js — what the page needs before app.js (an async module, early in
// <head>): the model worker that index.html's first script started (its
// engine and the stored translation model on their way; without that script
// one started here), the engine for the page's other workers (the module
// that worker compiled, else compiled here), and the handle of the stored
// translation model used last. Each is started once; app.js takes them over
// (js/index.js load({worker, wasm}), storage.js handles).
import * as store from './storage.js';
import { relaxedSimdSupported } from '../js/core.js';

// Every logical core up to 8 when the page is cross-origin isolated; ?threads=N to choose.
export const threadsWanted = Number(new URLSearchParams(location.search).get('threads')) || 'auto';
// The relaxed-SIMD build where this engine computes the relaxed dot exactly
// (relaxedSimdSupported: a tiny module, compiled at once), else the SIMD128
// one; ?simd=simd128 to choose the SIMD128 one (docs/simd.md).
export const simdWanted = new URLSearchParams(location.search).get('simd') === 'simd128' ? 'simd128' : 'auto';
export const relaxed = simdWanted === 'auto' && relaxedSimdSupported();
// The threaded module (dist/atento-mt.wasm) then, else dist/atento.wasm, or
// their relaxed twins: only the module the workers will run is fetched and
// compiled (its SIMD128 twin only should it fail).
export const threaded = !!globalThis.crossOriginIsolated
  && (threadsWanted === 'auto' ? (navigator.hardwareConcurrency || 1) > 1 : threadsWanted > 1);
const plainUrl = new URL(threaded ? '../dist/atento-mt.wasm' : '../dist/atento.wasm', import.meta.url);
export const wasmUrl = relaxed ? new URL(threaded ? '../dist/atento-mt-relaxed.wasm' : '../dist/atento-relaxed.wasm', import.meta.url) : plainUrl;

async function compileUrl(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`cannot fetch ${url.pathname}: HTTP ${res.status} (build it with ./build.sh)`);
  return WebAssembly.compileStreaming ? WebAssembly.compileStreaming(res) : WebAssembly.compile(await res.arrayBuffer());
}

// What index.html's first script started: the model worker, and the module it compiles.
const early = globalThis.atentoEarly || null;

let wasmModule = null;
let relaxedError = '';
/** Why the relaxed module was wanted but its SIMD128 twin is used ('' if not). */
export function simdError() { return relaxedError; }
/**
 * The compiled engine (a WebAssembly.Module), compiled once; a failure is
 * retried on the next call. The module the early worker compiled when it is
 * the one wanted here (same threading), else compiled here.
 */
export function engine() {
  wasmModule ??= (early ? early.engine : Promise.resolve(null)).then((e) => {
    if (e && e.threaded === threaded && (e.simd === 'relaxed') === relaxed) return e.module;
    return compileUrl(wasmUrl).catch((err) => {
      if (wasmUrl === plainUrl) throw err;
      relaxedError = err.message;
      return compileUrl(plainUrl);
    });
  });
  wasmModule.catch(() => { wasmModule = null; });
  return wasmModule;
}

// One worker started ahead, for the first model. Under a service worker it
// is started from a blob: URL that imports js/worker.js, as js/index.js
// does, so that its imports come from the cache when offline.
let earlyWorker = null;
function startWorker() {
  const url = new URL('../js/worker.js', import.meta.url).href;
  let w = null;
  try {
    if (navigator.serviceWorker?.controller) {
      const blobUrl = URL.createObjectURL(new Blob([`import ${JSON.stringify(url)};\n`], { type: 'text/javascript' }));
      w = new Worker(blobUrl, { type: 'module', name: 'atento' });
      setTimeout(() => URL.revokeObjectURL(blobUrl), 60000);
    }
  } catch {
    w = null;
  }
  try {
    w ??= new Worker(url, { type: 'module', name: 'atento' });
  } catch {
    return;
  }
  earlyWorker = w;
  // A worker that failed to start is not handed over (load() starts its own).
  w.addEventListener('error', () => { if (earlyWorker === w) { earlyWorker = null; w.terminate(); } }, { once: true });
}

/**
 * The worker started ahead, once (null after that, or if it failed): pass
 * it straight to load(), in the same call, so that it has listeners before
 * it can say anything.
 */
export function takeWorker() {
  const w = earlyWorker;
  earlyWorker = null;
  return w;
}

/** Whether the worker takeWorker() gives starts its engine itself (index.html's first script's does: load() need not wait for engine()). */
export const workerHasEngine = !!early;

// The stored file of the translation model used last (the page opens on
// Translate): its handle is looked up now, not when app.js asks.
const handles = new Map(); // entry id -> Promise<FileSystemFileHandle|null>
/** The handle of a stored entry, looked up once. */
export function handleOf(entry) {
  if (!handles.has(entry.id)) {
    // index.html's first script looked up the file its worker reads ahead
    const ahead = early && early.preloaded === entry.id && early.handle;
    handles.set(entry.id, ahead ? ahead.then((h) => h || store.handleOf(entry)) : store.handleOf(entry));
  }
  return handles.get(entry.id);
}

if (early) {
  // Started by index.html's first script, its engine and its model on their way.
  earlyWorker = early.worker;
  early.worker.addEventListener('error', () => { if (earlyWorker === early.worker) { earlyWorker = null; early.worker.terminate(); } }, { once: true });
} else {
  startWorker();
  // Once compiled, the module goes to the worker still waiting for its model,
  // which starts its runtime (and its threads) then, not when the model comes.
  engine().then((module) => {
    earlyWorker?.postMessage({ type: 'init', start: true, threads: threadsWanted, [threaded ? 'threadedWasm' : 'wasm']: module });
  }, () => {});
}
if (!location.hash || location.hash === '#translate') {
  try {
    const last = JSON.parse(localStorage.getItem('atento.translate') || 'null');
    const entry = last?.key ? store.find(last.key) : null;
    if (entry) handleOf(entry);
  } catch { /* private mode: nothing stored */ }
}
