// boot.js — what the page starts before the rest of it has arrived (an async
// module, first in <head>): a model worker, whose scripts (js/worker.js and
// its imports) load while the page's do; the compile of the engine the
// workers run; and the stored file of the translation model used last. Each
// is started once; app.js takes them over (js/index.js load({worker, wasm}),
// storage.js handles), so the first model's load starts with its worker
// already running, its runtime started and its module compiled.
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

let wasmModule = null;
let relaxedError = '';
/** Why the relaxed module was wanted but its SIMD128 twin is used ('' if not). */
export function simdError() { return relaxedError; }
/** The compiled engine (a WebAssembly.Module), compiled once; a failure is retried on the next call. */
export function engine() {
  wasmModule ??= compileUrl(wasmUrl).catch((e) => {
    if (wasmUrl === plainUrl) throw e;
    relaxedError = e.message;
    return compileUrl(plainUrl);
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

// The stored file of the translation model used last (the page opens on
// Translate): its handle is looked up now, not when app.js asks.
const handles = new Map(); // entry id -> Promise<FileSystemFileHandle|null>
/** The handle of a stored entry, looked up once. */
export function handleOf(entry) {
  if (!handles.has(entry.id)) handles.set(entry.id, store.handleOf(entry));
  return handles.get(entry.id);
}

startWorker();
// Once compiled, the module goes to the worker still waiting for its model,
// which starts its runtime (and its threads) then, not when the model comes.
engine().then((module) => {
  earlyWorker?.postMessage({ type: 'init', start: true, threads: threadsWanted, [threaded ? 'threadedWasm' : 'wasm']: module });
}, () => {});
if (!location.hash || location.hash === '#translate') {
  try {
    const last = JSON.parse(localStorage.getItem('atento.translate') || 'null');
    const entry = last?.key ? store.find(last.key) : null;
    if (entry) handleOf(entry);
  } catch { /* private mode: nothing stored */ }
}
