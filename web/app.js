// app.js — the atento page. No framework: the DOM, the npm package's API
// (../js/index.js, which runs each model in a Web Worker) and storage.js
// (models kept in the Origin Private File System / Cache Storage).
// The main thread only moves text around; loading, tokenizing and decoding
// all happen in the workers.
import { load, formatBytes } from '../js/index.js';
import * as store from './storage.js';
import { engine, threaded, threadsWanted, simdWanted, simdError, takeWorker, handleOf } from './boot.js';
import { simdOf, relaxedSimdSupported } from '../js/core.js';

const $ = (id) => document.getElementById(id);

// ---- small helpers ----------------------------------------------------------------

function notice(msg) {
  $('notice-text').textContent = msg;
  $('notice').hidden = false;
}
function clearNotice() { $('notice').hidden = true; }
$('notice-close').addEventListener('click', clearNotice);

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'style') e.setAttribute('style', v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

const fmtRate = (b) => (b > 0 ? `${formatBytes(b)}/s` : '');

// ---- tabs ---------------------------------------------------------------------------

const tabs = [...document.querySelectorAll('[role=tab]')];
function selectTab(tab, focus = false) {
  for (const t of tabs) {
    const on = t === tab;
    t.setAttribute('aria-selected', on ? 'true' : 'false');
    t.tabIndex = on ? 0 : -1;
    $(t.getAttribute('aria-controls')).hidden = !on;
  }
  if (focus) tab.focus();
  const name = tab.id.replace('tab-', '');
  if (location.hash !== '#' + name) history.replaceState(null, '', '#' + name);
  if (name === 'models') refreshModelLists();
  if (name === 'attention') drawAttention();
  // The tab that needs a model starts getting it now (once).
  if (name === 'translate' || name === 'chat') ensureModel(name);
}
for (const t of tabs) {
  t.addEventListener('click', () => selectTab(t));
  t.addEventListener('keydown', (e) => {
    const i = tabs.indexOf(t);
    let j = null;
    if (e.key === 'ArrowRight') j = (i + 1) % tabs.length;
    else if (e.key === 'ArrowLeft') j = (i - 1 + tabs.length) % tabs.length;
    else if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = tabs.length - 1;
    if (j !== null) { e.preventDefault(); selectTab(tabs[j], true); }
  });
}

// ---- the engine: compiled once, shared by every model worker ---------------------------
//
// boot.js starts it (and a worker, and the stored model's file) before this
// script has arrived; load() below takes the compile's promise, so the
// worker starts while it compiles.

// ---- models: shipped defaults, slots, storage -------------------------------------------
//
// A model is downloaded when a tab first needs it (the Translate tab at
// startup, the Chat tab when opened) by its worker, which loads it and
// writes it to storage (storage.js) as it arrives; later visits load it
// from storage, offline too.

let shipped = [];
const shippedReady = fetch('models.json').then((r) => r.json()).then((j) => {
  shipped = j.models.map((m) => ({ ...m, url: new URL(m.url, new URL('models.json', location.href)).href }));
}).catch(() => { shipped = []; });

// What is loaded: kind 'translate' and 'chat', each {model, key, name, info}.
const slots = { translate: null, chat: null };
const loading = { translate: null, chat: null };

function slotLabel(kind) {
  const s = slots[kind];
  if (!s) return '—';
  const i = s.model.info;
  return `${s.name} (${i.arch}, ${formatBytes(i.fileSize)}, memory ${formatBytes(i.memoryBytes)})`;
}

function showInUse() {
  $('inuse-translate').textContent = slotLabel('translate');
  $('inuse-chat').textContent = slotLabel('chat');
}

// Progress of a load: in the tab that waits for it and in the Models tab.
const loadBars = {
  translate: ['translate-loadbar', 'translate-loadprog', 'translate-loadtext'],
  chat: ['chat-loadbar', 'chat-loadprog', 'chat-loadtext'],
  models: ['load-box', 'load-progress', 'load-status'],
};
function showLoad(kind, text, percent) {
  for (const k of [kind, 'models']) {
    const ids = loadBars[k];
    if (!ids) continue;
    $(ids[0]).hidden = false;
    $(ids[2]).textContent = text;
    const p = $(ids[1]);
    if (percent === null || percent === undefined) p.removeAttribute('value');
    else { p.max = 100; p.value = percent; }
  }
}
function hideLoad(kind) {
  for (const k of [kind, 'models']) if (loadBars[k]) $(loadBars[k][0]).hidden = true;
}

let loadAbort = null;
$('load-cancel').addEventListener('click', () => loadAbort?.abort());

function progressText(name, p) {
  const verb = p.phase === 'download' ? 'Downloading' : 'Loading';
  const pct = p.total > 0 ? `${Math.min(100, (100 * p.loaded) / p.total).toFixed(0)}%` : '';
  const bytes = p.total > 0 ? `${formatBytes(p.loaded)} of ${formatBytes(p.total)}` : formatBytes(p.loaded);
  return [`${verb} ${name}:`, pct, bytes, fmtRate(p.bytesPerSecond)].filter(Boolean).join(' ');
}

// Actions that need the model wait (disabled) while it loads.
function setBusy(kind, busy) {
  if (kind === 'translate') {
    $('view-translate').setAttribute('aria-busy', busy ? 'true' : 'false');
    $('translate').disabled = busy || !!translating;
  } else if (kind === 'chat') {
    $('view-chat').setAttribute('aria-busy', busy ? 'true' : 'false');
    $('send').disabled = busy || !!chatting;
  }
}

/**
 * Load a model into the slot its architecture asks for.
 * source: {key, name, url?, blob?}. keep: store it for next time. auto: a
 * default the page chose (a model the user picked meanwhile wins).
 * Returns the slot or null on failure (a notice says why; the page keeps working).
 */
// When each step of getting a model happened (ms since navigation), for
// docs/benchmarks.md's first-token figures: window.atento.timeline.
const timeline = [];
const mark = (what) => timeline.push({ what, at: Math.round(performance.now()) });

async function openModel(source, { wantKind = null, keep = true, quiet = false, auto = false } = {}) {
  const name = source.name;
  mark(`open ${name}`);
  const ctrl = new AbortController();
  loadAbort = ctrl;
  setBusy(wantKind, true);
  showLoad(wantKind, `Loading ${name}…`, null);
  let m;
  let entry = null;
  let download = null;
  let file = null;
  let finished = false; // no progress is shown after the load ended (the copy to disk may still report)
  try {
    // Compiled while the worker starts and the model arrives; should it fail,
    // the worker compiles the module itself (and says why it cannot).
    const wasmReady = engine().then((w) => { mark('engine compiled'); return w; }, () => undefined);
    let src = source.blob || null;
    if (!src && source.key) {
      entry = store.find(source.key);
      if (entry) {
        // A file of the private file system is read by the worker in place.
        src = (await handleOf(entry)) || (await store.blobOf(entry));
        if (!src) { await store.remove(entry.id); entry = null; }
      }
    }
    if (src) mark('source found');
    let size = 0;
    if (!src && source.url && keep && !(source.size > 0 && source.size < store.SMALL)) {
      // The worker downloads it and writes it to a new file of the private
      // file system as it reads it: the bytes reach the worker straight from
      // the network, and are kept (recorded below) once it has them all.
      file = await store.newFile(source.key, name);
      if (file) src = source.url;
    }
    if (!src && source.url) {
      // Else (small files go to Cache Storage; no private file system):
      // downloaded here, streamed into the worker and into storage at once.
      if (keep && store.canStore()) {
        // Loaded while it downloads and is written to storage (one read of the network).
        download = await store.download(source.key, name, source.url, {
          signal: ctrl.signal,
          onProgress: (p) => { if (!finished) showLoad(wantKind, progressText(name, { phase: 'download', ...p }), p.total > 0 ? (100 * p.loaded) / p.total : null); },
        });
        src = download.stream;
        size = download.total;
      } else src = source.url;
    }
    m = await load(src, {
      storeTo: file?.handle,
      worker: takeWorker(), // started by boot.js, if still unused
      ...(threaded ? { threadedWasm: wasmReady } : { wasm: wasmReady }),
      threads: threadsWanted,
      simd: simdWanted,
      name,
      size,
      cache: false,
      signal: ctrl.signal,
      // A download reports its own progress (above).
      onProgress: download ? undefined : (p) => showLoad(wantKind, progressText(name, p), p.percent),
    });
    if (file) {
      const n = m.info.stored?.bytes ?? 0;
      if (n > 0 && n === m.info.fileSize) {
        const kept = file.keep(n);
        mark('stored');
        whenIdle().then(() => store.settle(kept)).then(() => refreshModelLists()).catch(() => {});
      } else {
        file.drop();
        if (!quiet) notice(`${name} works, but cannot be stored in this browser: ${m.info.stored?.error || `${n} of ${m.info.fileSize} bytes written`}`);
      }
    }
    if (download) {
      // In use now; kept once the copy is on disk, then hashed (duplicates
      // merged) when the page has nothing better to do.
      download.stored.then((e) => { mark('stored'); return whenIdle().then(() => store.settle(e)); }).then(() => refreshModelLists()).catch((e) => {
        if (!quiet && e.code !== 'E_ABORTED') notice(`${name} works, but cannot be stored in this browser: ${e.message}`);
      });
    }
  } catch (e) {
    // A download still running (and its copy to storage) stops too; a copy
    // already made of a file that does not load is not kept.
    ctrl.abort();
    download?.stored.then((x) => store.remove(x.id)).catch(() => {});
    file?.drop();
    hideLoad(wantKind);
    setBusy(wantKind, false);
    const why = e.message.startsWith(name + ': ') ? e.message.slice(name.length + 2) : e.message;
    if (e.code !== 'E_ABORTED' && !(auto && slots[wantKind])) notice(`Cannot use the model ${name}: ${why}`);
    return null;
  } finally {
    finished = true;
    if (loadAbort === ctrl) loadAbort = null;
  }
  mark(`loaded (${Math.round(m.info.loadMs)} ms in the worker)`);
  hideLoad(wantKind);
  setBusy(wantKind, false);
  const kind = m.info.kind;
  if (wantKind && kind !== wantKind) {
    m.dispose();
    notice(`${name} is a ${kind === 'chat' ? 'chat (' + m.info.arch + ')' : 'translation'} model; a ${wantKind} model is needed here.`);
    return null;
  }
  if (auto && slots[kind]) { m.dispose(); return slots[kind]; }
  if (source.blob && keep) {
    // Kept for next time, once (the same content already kept gains a name
    // only), while the model is already in use.
    store.saveBlob(source.key, name, source.blob).then(() => refreshModelLists(), (e) => {
      if (!quiet) notice(`${name} works, but cannot be stored in this browser: ${e.message}`);
    });
  }
  if (entry && !entry.hash) whenIdle().then(() => store.settle(entry)).then(() => refreshModelLists()).catch(() => {});
  const old = slots[kind];
  slots[kind] = { model: m, key: source.key, name, info: m.info };
  if (old && old.model !== m) old.model.dispose();
  try { localStorage.setItem(`atento.${kind}`, JSON.stringify({ key: source.key, name, url: source.url || null })); } catch { /* private mode */ }
  setStatus(kind, `${name} ready (${formatBytes(m.info.fileSize)}, loaded in ${(m.info.loadMs / 1000).toFixed(1)} s).`);
  showInUse();
  refreshModelLists();
  if (kind === 'chat' && old) resetChatView();
  if (kind === 'chat' && m.info.tools) whenIdle().then(() => toolSources()).catch(() => {});
  if (kind === 'translate') {
    detectSoon();
    // The first translation of a fresh worker pays for the code's first run
    // (and, with threads, the pool's first job): paid here when nobody
    // waits, up to the first token (the encoder and one decoder step).
    if (!translateWaiting) {
      const warm = m.translate('Hello.', { onToken: () => warm.abort() });
      warm.catch(() => {});
    }
  }
  return slots[kind];
}

// Work that can wait (hashing a stored model, installing the service
// worker) runs when no model is loading, nothing is translated or chatted,
// and the browser is idle: it never delays a first token.
function whenIdle() {
  return new Promise((resolve) => {
    const check = () => {
      if (translating || chatting || translateWaiting || chatQueued || loading.translate || loading.chat) { setTimeout(check, 300); return; }
      if (typeof requestIdleCallback === 'function') requestIdleCallback(() => resolve(), { timeout: 1000 });
      else setTimeout(resolve, 50);
    };
    setTimeout(check, 200);
  });
}

// The tutor's built-in tools (docs/chat.md, "Built-in tools"): a chat model
// that declares them (info.tools) runs translate and lookup in its worker.
// The dictionary is downloaded with it and kept (storage.js); it and the
// translation model are handed to the worker from storage when kept there,
// else as their URLs.
let toolFiles = null;
async function keptOrDownloaded(url, name) {
  const e = store.find(url);
  const kept = e ? await store.blobOf(e) : null;
  if (kept || !store.canStore()) return kept || url;
  try {
    const d = await store.download(url, name, url);
    await new Response(d.stream).arrayBuffer(); // the loader's branch of the download, unused here
    return (await store.blobOf(await d.stored)) || url;
  } catch {
    return url;
  }
}
function toolSources() {
  toolFiles ??= (async () => {
    await shippedReady;
    const mt = shipped.find((x) => x.kind === 'translate')?.url;
    const e = mt ? store.find(mt) : null;
    const translate = (e ? await store.blobOf(e) : null) || mt;
    const dictionary = await keptOrDownloaded(new URL('../models/dict-en-es.tsv', new URL('models.json', location.href)).href, 'dict-en-es.tsv');
    return translate ? { translate, dictionary } : { dictionary };
  })();
  return toolFiles;
}

function setStatus(kind, text) {
  if (kind === 'translate') $('translate-status').textContent = text;
  else if (kind === 'chat') $('chat-status').textContent = text;
}

/** The model for `kind`: the one in use, the last one chosen, or the shipped default. */
async function ensureModel(kind) {
  if (slots[kind]) return slots[kind];
  if (loading[kind]) return loading[kind];
  loading[kind] = (async () => {
    // The model used last needs no model list (models.json is not waited for).
    let last = null;
    try { last = JSON.parse(localStorage.getItem(`atento.${kind}`) || 'null'); } catch { /* ignore */ }
    if (last && last.key && (store.find(last.key) || last.url)) {
      const s = await openModel({ key: last.key, name: last.name, url: last.url || undefined }, { wantKind: kind, quiet: true, auto: true });
      if (s) return s;
    }
    await shippedReady;
    const def = shipped.find((x) => x.kind === kind);
    if (!def) {
      notice(`No ${kind} model is available: open one in the Models tab.`);
      return null;
    }
    return openModel({ key: def.url, name: def.name, url: def.url, size: def.size }, { wantKind: kind, auto: true });
  })();
  try {
    return await loading[kind];
  } finally {
    loading[kind] = null;
  }
}

// ---- Models panel ---------------------------------------------------------------------

async function deleteStored(id) {
  await store.remove(id);
  refreshModelLists();
}

let refreshing = null;
async function refreshModelLists() {
  if (refreshing) return refreshing;
  refreshing = (async () => {
    await shippedReady;
    const stored = store.list();
    const inUse = new Set(Object.values(slots).filter(Boolean).map((s) => s.key));
    const inUseEntry = (e) => e.keys.some((k) => inUse.has(k));

    const ul = $('shipped');
    ul.replaceChildren();
    if (!shipped.length) ul.append(el('li', { class: 'empty', text: 'No shipped models listed.' }));
    for (const d of shipped) {
      const kept = store.find(d.url);
      ul.append(el('li', {},
        el('span', { class: 'name', text: d.name }),
        el('span', { class: 'size', text: d.size ? formatBytes(d.size) : '' }),
        el('span', { class: 'help', text: inUse.has(d.url) ? 'in use' : kept ? 'stored' : 'downloaded when first used' }),
        el('button', { type: 'button', text: 'Use', 'aria-label': `Use ${d.name}`, onclick: () => openModel({ key: d.url, name: d.name, url: d.url, size: d.size }) })));
    }

    const su = $('stored');
    su.replaceChildren();
    if (!stored.length) su.append(el('li', { class: 'empty', text: store.canStore() ? 'Nothing stored yet.' : 'This browser cannot store models (storage needs https or localhost).' }));
    for (const s of stored) {
      const url = s.keys.find((k) => !k.startsWith('file:'));
      const where = s.where === 'opfs' ? 'file system' : 'cache';
      su.append(el('li', {},
        el('span', { class: 'name', text: s.name }),
        el('span', { class: 'size', text: formatBytes(s.size) }),
        el('span', { class: 'help', text: [inUseEntry(s) ? 'in use' : '', url ? 'downloaded' : 'opened from disk', where].filter(Boolean).join(' · ') }),
        el('button', { type: 'button', text: 'Use', 'aria-label': `Use ${s.name}`, onclick: () => openModel({ key: s.keys[0], name: s.name, url }) }),
        el('button', { type: 'button', text: 'Delete', 'aria-label': `Delete ${s.name}`, onclick: () => deleteStored(s.id) })));
    }
    const e = await store.estimate();
    $('storage-usage').textContent = e ? `Using ${formatBytes(e.usage)} of ${formatBytes(e.quota)} available.` : '';
    showInUse();
    showOffline();
  })();
  try { await refreshing; } finally { refreshing = null; }
}

function openFile(file) {
  if (!file) return;
  if (!/\.gguf$/i.test(file.name)) notice(`${file.name} does not end in .gguf; trying it anyway.`);
  openModel({ key: `file:${file.name}`, name: file.name, blob: file });
}

$('file').addEventListener('change', (e) => { openFile(e.target.files[0]); e.target.value = ''; });
const drop = $('drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => { e.preventDefault(); e.stopPropagation(); drop.classList.remove('over'); openFile(e.dataTransfer.files[0]); });
drop.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); $('file').click(); } });
// A file dropped anywhere else must not navigate away from the page.
window.addEventListener('dragover', (e) => e.preventDefault());
window.addEventListener('drop', (e) => { e.preventDefault(); if (e.dataTransfer?.files?.[0]) openFile(e.dataTransfer.files[0]); });

$('url-form').addEventListener('submit', (e) => {
  e.preventDefault();
  let url;
  try { url = new URL($('model-url').value, location.href).href; } catch { notice('That is not a valid URL.'); return; }
  openModel({ key: url, name: decodeURIComponent(url.split('/').pop() || url), url });
});

// ---- Translate ------------------------------------------------------------------------
//
// The direction needs no thought: the language of the text is detected
// (src/langid.c, through the model's worker) and it is translated into the
// other one; "From" can also be set by hand, and ⇄ swaps.

const LANG = { en: 'English', es: 'Spanish' };
const other = (l) => (l === 'en' ? 'es' : l === 'es' ? 'en' : null);
let translating = null; // the running stream
// Per sentence of the last translation: {source, text, to, beam, attention,
// sourcePieces, targetPieces}; the attention is worked out when the
// Attention view asks for it (computeAttention), not with every translation.
let lastAttention = [];
let detectedLang = null;
let detectedMixed = false; // the last text had sentences in both languages (each translated its own way)
let mixedText = null; // that text

function sourceLang() { return $('from').value === 'auto' ? detectedLang : $('from').value; }
function showDirection() {
  const auto = $('from').value === 'auto';
  const mixed = auto && detectedMixed;
  const from = sourceLang();
  const to = other(from);
  $('src-label').textContent = mixed ? 'English and Spanish (detected)' : from ? `${LANG[from]}${auto ? ' (detected)' : ''}` : 'Text to translate';
  $('dst-label').textContent = mixed ? 'Translation (each sentence into the other language)' : to ? LANG[to] : 'Translation';
  $('to-lang').textContent = mixed ? 'the other language, sentence by sentence' : to ? LANG[to] : 'the other language';
  $('src').lang = mixed ? '' : from || '';
  $('dst').lang = mixed ? '' : to || '';
}
$('from').addEventListener('change', () => { showDirection(); detectSoon(); });

// Detect the language as the text changes (once the model's worker is there).
let detectTimer = 0;
function detectSoon() {
  clearTimeout(detectTimer);
  detectTimer = setTimeout(async () => {
    const text = $('src').value;
    const slot = slots.translate;
    if ($('from').value !== 'auto') { $('detected').textContent = ''; return; }
    if (!text.trim() || !slot) { detectedLang = null; detectedMixed = false; $('detected').textContent = ''; showDirection(); return; }
    if (text === mixedText) return; // its translation found both languages: that stays said
    try {
      const d = await slot.model.detectLanguage(text);
      if ($('src').value !== text || text === mixedText) return;
      detectedLang = d.language;
      detectedMixed = false;
      $('detected').textContent = d.language ? `Detected: ${LANG[d.language] || d.language}` : 'No language detected yet';
    } catch { /* a new model is loading; the translation detects again */ }
    showDirection();
  }, 200);
}
$('src').addEventListener('input', detectSoon);

$('swap').addEventListener('click', () => {
  const from = sourceLang();
  const to = other(from) || 'es';
  $('from').value = to;
  const out = $('dst').textContent;
  if (out.trim()) $('src').value = out;
  $('dst').textContent = '';
  showDirection();
  detectSoon();
});
$('src-clear').addEventListener('click', () => { $('src').value = ''; $('dst').textContent = ''; detectSoon(); $('src').focus(); });
$('copy').addEventListener('click', async () => {
  const t = $('dst').textContent;
  try {
    await navigator.clipboard.writeText(t);
    $('copy-status').textContent = 'Copied.';
  } catch {
    // Clipboard access may be denied: select the text instead.
    const r = document.createRange();
    r.selectNodeContents($('dst'));
    getSelection().removeAllRanges();
    getSelection().addRange(r);
    $('copy-status').textContent = 'Selected: press Ctrl+C to copy.';
  }
  setTimeout(() => { $('copy-status').textContent = ''; }, 2500);
});
$('src').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); runTranslate(); }
});
$('translate').addEventListener('click', () => runTranslate());
$('translate-stop').addEventListener('click', () => translating?.abort());

let translateWaiting = false; // a translation asked for while the model loads: run once, when ready
// A long output is drawn in batches. Each draw makes the browser lay out the
// whole output again: up to 2 kB it is drawn token by token, then every
// size/100 ms (20 ms at 2 kB, 250 ms from 25 kB on). Drawn token by token, a
// 5,000-word page took a fifth of the time of its translation, on the cores
// the translation's threads need (docs/benchmarks.md).
let stopDrawing = null;
function batchedDraw() {
  let ops = [];
  let timer = 0;
  let size = 0;
  let stopped = false; // a newer translation took the output over
  const flush = () => {
    clearTimeout(timer);
    timer = 0;
    const run = ops;
    ops = [];
    for (const f of run) f();
  };
  /** Run f at the next draw; n: characters it adds to the output. */
  const later = (f, n = 0) => {
    if (stopped) return;
    size += n;
    if (size < 2048 && !timer) { f(); return; } // short: token by token
    ops.push(f);
    if (!timer) timer = setTimeout(flush, Math.min(250, size / 100));
  };
  const stop = () => { stopped = true; clearTimeout(timer); timer = 0; ops = []; };
  return { later, flush, stop };
}

async function runTranslate() {
  const text = $('src').value;
  if (!text.trim()) { $('src').focus(); return; }
  if (translateWaiting) return;
  if (translating) translating.abort();
  stopDrawing?.();
  clearNotice();
  translateWaiting = true;
  let slot;
  try {
    slot = await ensureModel('translate');
  } finally {
    translateWaiting = false;
  }
  if (!slot) return;
  mark('translation asked');
  const from = $('from').value;
  const to = from === 'auto' ? undefined : other(from);
  const beam = Number($('beam').value);
  const out = $('dst');
  // Finished sentences are text nodes; the one being decoded is a span that
  // grows token by token. Callbacks arrive in the worker's order.
  let current = null;
  let tokens = 0;
  out.textContent = '';
  const prog = $('translate-progress');
  prog.hidden = false;
  prog.value = 0;
  lastAttention = [];
  $('translate').disabled = true;
  $('translate-stop').disabled = false;
  out.classList.remove('mixed');
  const directions = new Set();
  const draw = batchedDraw();
  stopDrawing = draw.stop;
  const t0 = performance.now();
  // Detected per sentence: mixed English and Spanish text goes each sentence its own way.
  const stream = slot.model.translate(text, {
    to, beam, mixed: !to,
    onSentence: (s) => {
      // Each sentence in its own element, in its language; when the text
      // turns out mixed, each is marked with its direction (style.css).
      const dir = s.from && s.to ? `${s.from.toUpperCase()}→${s.to.toUpperCase()}` : '';
      const span = el('span', { class: 'current sentence', lang: s.to || undefined, 'data-dir': dir || undefined,
        title: s.from && s.to ? `${LANG[s.from] || s.from} → ${LANG[s.to] || s.to}` : undefined });
      current = span;
      if (s.to) directions.add(s.to);
      const mixed = directions.size > 1;
      draw.later(() => {
        out.append(span);
        if (mixed) out.classList.add('mixed');
        prog.max = s.count;
        $('translate-status').textContent = `Sentence ${s.index + 1} of ${s.count}…`;
      });
    },
    onToken: (piece) => {
      const text = piece.text;
      if (!current) { draw.later(() => out.append(text), text.length); return; } // the spaces and line breaks between sentences
      const span = current;
      draw.later(() => { span.textContent += text; }, text.length);
      if (!tokens) {
        // For tests/browser/first-visit.test.mjs: the first token since the click, and since navigation.
        draw.flush();
        window.atento.firstTokenMs = performance.now() - t0;
        window.atento.firstTokenAt = performance.now();
        mark('first translated token');
      }
      tokens++;
    },
    onSentenceDone: (s) => {
      const span = current;
      current = null;
      draw.later(() => {
        span?.classList.remove('current');
        prog.value = s.index + 1;
      });
      lastAttention[s.index] = { source: s.source, text: s.text, to: s.to || to, beam, attention: null };
    },
  });
  translating = stream;
  try {
    const r = await stream;
    if (translating !== stream) return; // replaced by a newer translation
    draw.flush();
    const secs = (performance.now() - t0) / 1000;
    if (from === 'auto' && r.from) {
      detectedLang = r.from;
      detectedMixed = !!r.mixed;
      mixedText = r.mixed ? text : null;
      $('detected').textContent = r.mixed ? 'Detected: English and Spanish, sentence by sentence' : `Detected: ${LANG[r.from] || r.from}`;
      showDirection();
    }
    if (r.reason === 'same-language') {
      out.textContent = '';
      $('translate-status').textContent = `The text is already in ${LANG[r.to] || r.to}: nothing to translate. Choose “Detect language” or press ⇄ to translate it the other way.`;
      return;
    }
    // The streamed sentences stay (each with its language); the worker's text is the reference.
    if (out.textContent !== r.text) out.textContent = r.text;
    const n = r.stats?.sentences ?? 0;
    $('translate-status').textContent = r.reason === 'abort'
      ? `Stopped after ${n} sentence${n === 1 ? '' : 's'}.`
      : `${n} sentence${n === 1 ? '' : 's'}, ${r.stats?.genTokens ?? tokens} tokens in ${secs.toFixed(2)} s (${(r.stats?.tokensPerSecond ?? 0).toFixed(1)} tokens/s).${r.mixed ? ` Mixed text: ${mixedSummary(r.sentences)}.` : ''}`;
    fillAttentionSelectors();
  } catch (e) {
    if (translating !== stream) return;
    draw.flush();
    notice(`Translation failed: ${e.message}`);
    $('translate-status').textContent = '';
  } finally {
    if (translating === stream) {
      translating = null;
      prog.hidden = true;
      $('translate').disabled = false;
      $('translate-stop').disabled = true;
    }
  }
}

/** "2 English → Spanish, 1 Spanish → English" for the sentences of a mixed text. */
function mixedSummary(sentences) {
  const counts = new Map();
  for (const s of sentences) {
    const k = `${LANG[s.from] || s.from} → ${LANG[s.to] || s.to}`;
    counts.set(k, (counts.get(k) || 0) + 1);
  }
  return [...counts].map(([k, n]) => `${n} ${k}`).join(', ');
}

// ---- Chat ---------------------------------------------------------------------------------

let conversation = []; // {role, content}
let chatting = null;
let lastTop = []; // per generated token: {text, top}

for (const [id, out] of [['temperature', 'temperature-val'], ['topp', 'topp-val']]) {
  $(id).addEventListener('input', () => { $(out).value = $(id).value; });
}

function resetChatView() {
  conversation = [];
  $('messages').replaceChildren(el('li', { class: 'empty', text: 'Ask in English or Spanish: “How do you say thank you in Spanish?”' }));
}
resetChatView();

function addMessage(role, text) {
  const list = $('messages');
  list.querySelector('.empty')?.remove();
  const li = el('li', { class: role }, el('span', { class: 'body', text }));
  li.setAttribute('aria-label', role === 'user' ? 'You' : 'Assistant');
  list.append(li);
  li.scrollIntoView({ block: 'end' });
  return li;
}

$('chat-input').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); $('chat-form').requestSubmit(); }
});
$('chat-form').addEventListener('submit', (e) => { e.preventDefault(); sendChat(); });
$('chat-stop').addEventListener('click', () => stopChat());
$('new-chat').addEventListener('click', async () => {
  stopChat();
  resetChatView();
  lastTop = [];
  $('chat-status').textContent = '';
  await slots.chat?.model.resetChat().catch(() => {});
  $('chat-input').focus();
});

let stopRequested = false;
function stopChat() {
  if (!chatting) return;
  stopRequested = true; // the page stops showing tokens now; the worker stops at its next token
  chatting.abort();
}

// A message sent while the model loads is shown at once, marked as waiting,
// and sent once the model is ready: never twice, whatever else is pressed.
let chatQueued = false;
async function sendChat() {
  const text = $('chat-input').value.trim();
  if (!text || chatting || chatQueued) return;
  clearNotice();
  $('chat-input').value = '';
  conversation.push({ role: 'user', content: text });
  const userLi = addMessage('user', text);
  let slot = slots.chat;
  if (!slot) {
    chatQueued = true;
    userLi.classList.add('queued');
    const wait = el('span', { class: 'meta', text: 'waiting for the model to load…' });
    userLi.append(wait);
    $('send').disabled = true;
    try {
      slot = await ensureModel('chat');
    } finally {
      chatQueued = false;
      userLi.classList.remove('queued');
      wait.remove();
    }
    if (!slot) {
      // Not sent: the text goes back to the box.
      userLi.remove();
      conversation.pop();
      $('chat-input').value = text;
      $('send').disabled = false;
      return;
    }
  }
  const li = addMessage('assistant', '');
  li.classList.add('streaming');
  const body = li.querySelector('.body');
  const system = $('system').value.trim();
  const messages = (system ? [{ role: 'system', content: system }] : []).concat(conversation);
  stopRequested = false;
  $('send').disabled = true;
  $('chat-stop').disabled = false;
  lastTop = [];
  let reply = '';
  let n = 0;
  let tFirst = 0;
  const sources = slot.info.tools ? await toolSources().catch(() => null) : null;
  const stream = slot.model.chat(messages, {
    ...(sources ? { toolSources: sources } : {}),
    temperature: Number($('temperature').value),
    topP: Number($('topp').value),
    maxTokens: Math.max(1, Number($('maxtokens').value) || 256),
    topN: 5,
  });
  chatting = stream;
  try {
    for await (const piece of stream) {
      if (stopRequested) break;
      if (!tFirst) tFirst = performance.now();
      reply += piece.text;
      n += piece.token >= 0 ? 1 : 0;
      body.textContent = reply;
      if (piece.top) lastTop.push({ token: piece.token, text: piece.text, top: piece.top });
      const secs = (performance.now() - tFirst) / 1000;
      if (n > 1 && secs > 0) $('chat-status').textContent = `${n} tokens · ${((n - 1) / secs).toFixed(1)} tokens/s`;
      if (n % 8 === 0) li.scrollIntoView({ block: 'end' });
    }
    const r = stopRequested ? { reason: 'abort', stats: null } : await stream;
    if (!stopRequested) { reply = r.text; body.textContent = reply; }
    const s = r.stats;
    const parts = [];
    if (r.reason === 'abort') parts.push('stopped');
    else if (r.reason === 'length') parts.push('token limit reached');
    if (s) parts.push(`${s.genTokens} tokens · ${s.tokensPerSecond.toFixed(1)} tokens/s · prompt ${s.promptTokens} tokens in ${(s.prefillMs / 1000).toFixed(2)} s`);
    if (r.droppedMessages) parts.push(`${r.droppedMessages} old message${r.droppedMessages === 1 ? '' : 's'} dropped to fit the context`);
    const note = toolNote(r.toolRuns);
    if (note) li.append(note);
    li.append(el('span', { class: 'meta', text: parts.join(' · ') }));
    if (s) $('chat-status').textContent = `${s.genTokens} tokens · ${s.tokensPerSecond.toFixed(1)} tokens/s`;
    else $('chat-status').textContent = 'Stopped.';
    conversation.push({ role: 'assistant', content: reply });
    renderTopK();
  } catch (e) {
    li.remove();
    conversation.pop();
    notice(`Chat failed: ${e.message}`);
  } finally {
    li.classList.remove('streaming');
    if (chatting === stream) chatting = null;
    $('send').disabled = false;
    $('chat-stop').disabled = true;
    li.scrollIntoView({ block: 'end' });
  }
}

// "used: translate": the tools (the model's built-in ones, docs/chat.md)
// that gave this answer, as text read with it; each call and what it gave
// in a list under it that opens (keyboard too). Calls that failed (an unknown
// tool, a bad argument) are listed there, not named as used. Null: no tool ran.
function toolNote(runs) {
  if (!Array.isArray(runs) || !runs.length) return null;
  const ok = runs.filter((t) => typeof t.result !== 'string' || !t.result.startsWith('error'));
  const names = [...new Set(ok.map((t) => t.name))];
  const list = el('ul', {}, ...runs.map((t) => el('li', { text: `${t.name}(${Object.entries(t.arguments || {}).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ')}) → ${t.result}` })));
  return el('details', { class: 'tools-used' },
    el('summary', { text: names.length ? `used: ${names.join(', ')}` : 'a tool call failed' }), list);
}

// ---- Attention view ----------------------------------------------------------------------

function renderTopK() {
  const box = $('topk');
  box.replaceChildren();
  if (!lastTop.length) { box.append(el('p', { class: 'help', text: 'Chat with the model to see them.' })); return; }
  // Spaces and control characters made visible.
  const show = (t) => t.replace(/ /g, '␣').replace(/\n/g, '⏎').replace(/\t/g, '⇥')
    .replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`) || '∅';
  for (const t of lastTop) {
    const ol = el('ol', { 'aria-label': `Alternatives for ${show(t.text)}` });
    for (const c of t.top) {
      const li = el('li', { class: c.token === t.token ? 'picked' : '', text: `${show(c.text)} ${(100 * c.p).toFixed(1)}%`, style: `--p:${(100 * c.p).toFixed(1)}%` });
      ol.append(li);
    }
    box.append(el('div', { class: 'tok' }, el('span', { class: 'chosen', title: t.text, text: show(t.text) }), ol));
  }
}

function fillAttentionSelectors() {
  $('att-controls').hidden = !lastAttention.some(Boolean);
  const sel = $('att-sentence');
  sel.replaceChildren();
  lastAttention.forEach((a, i) => { if (a) sel.append(el('option', { value: i, text: `${i + 1}: ${a.source.slice(0, 40)}` })); });
  fillLayerHead();
  drawAttention();
}

function currentAttention() { return lastAttention[Number($('att-sentence').value)] || null; }

function fillLayerHead() {
  const a = currentAttention()?.attention;
  const layer = $('att-layer'), head = $('att-head');
  const keepL = layer.value, keepH = head.value;
  layer.replaceChildren(el('option', { value: 'avg', text: 'average' }));
  head.replaceChildren(el('option', { value: 'avg', text: 'average' }));
  if (a) {
    for (let l = 0; l < a.nLayers; l++) layer.append(el('option', { value: l, text: `${l + 1}` }));
    for (let h = 0; h < a.nHeads; h++) head.append(el('option', { value: h, text: `${h + 1}` }));
    if ([...layer.options].some((o) => o.value === keepL)) layer.value = keepL;
    if ([...head.options].some((o) => o.value === keepH)) head.value = keepH;
  }
}
$('att-sentence').addEventListener('change', () => { fillLayerHead(); drawAttention(); });
$('att-layer').addEventListener('change', drawAttention);
$('att-head').addEventListener('change', drawAttention);

// The target×source matrix for the chosen layer/head (or their average).
function attentionMatrix(a, layerSel, headSel) {
  const { nLayers, nHeads, nTgt, nSrc, data } = a;
  const ls = layerSel === 'avg' ? [...Array(nLayers).keys()] : [Number(layerSel)];
  const hs = headSel === 'avg' ? [...Array(nHeads).keys()] : [Number(headSel)];
  const m = new Float32Array(nTgt * nSrc);
  for (const l of ls) for (const h of hs) {
    const base = ((l * nHeads) + h) * nTgt * nSrc;
    for (let i = 0; i < nTgt * nSrc; i++) m[i] += data[base + i];
  }
  const k = 1 / (ls.length * hs.length);
  for (let i = 0; i < m.length; i++) m[i] *= k;
  return m;
}

// The cross-attention of one sentence, asked of the worker when the view
// shows it: a translation does not pay for the extra decoder pass that
// records it (src/translate.c), only a look at the heatmap does.
async function computeAttention(entry) {
  const slot = slots.translate;
  if (!slot || entry.pending || entry.failed) return;
  entry.pending = true;
  let got = null;
  try {
    await slot.model.translate(entry.source, { to: entry.to, beam: entry.beam, attention: true, onSentenceDone: (s) => { got ??= s; } });
  } catch { /* said below: no weights */ }
  entry.pending = false;
  if (got?.attention) Object.assign(entry, { attention: got.attention, sourcePieces: got.sourcePieces, targetPieces: got.targetPieces });
  else entry.failed = true;
  if (currentAttention() === entry) { fillLayerHead(); drawAttention(); }
}

function drawAttention() {
  const canvas = $('heatmap');
  const entry = currentAttention();
  const a = entry?.attention;
  $('att-empty').hidden = !!a;
  $('att-align').textContent = '';
  if (!a) {
    canvas.width = canvas.height = 0;
    if (entry && !entry.failed && slots.translate) {
      $('att-empty').textContent = 'Working out where the model looks…';
      if (!$('view-attention').hidden) computeAttention(entry);
    } else if (entry) $('att-empty').textContent = 'This build of atento gives no attention weights for this translation.';
    return;
  }
  const m = attentionMatrix(a, $('att-layer').value, $('att-head').value);
  const src = entry.sourcePieces || [...Array(a.nSrc).keys()].map(String);
  const tgt = entry.targetPieces || [...Array(a.nTgt).keys()].map(String);
  const ctx = canvas.getContext('2d');
  const font = '13px ui-monospace, monospace';
  ctx.font = font;
  const cell = 26;
  const left = Math.min(180, 12 + Math.max(...tgt.map((t) => ctx.measureText(t).width)));
  const top = Math.min(180, 12 + Math.max(...src.map((t) => ctx.measureText(t).width)));
  const dpr = window.devicePixelRatio || 1;
  const W = left + cell * a.nSrc + 4, H = top + cell * a.nTgt + 4;
  canvas.width = W * dpr; canvas.height = H * dpr;
  canvas.style.width = W + 'px'; canvas.style.height = H + 'px';
  ctx.scale(dpr, dpr);
  const dark = matchMedia('(prefers-color-scheme: dark)').matches;
  ctx.fillStyle = dark ? '#1c1f25' : '#ffffff';
  ctx.fillRect(0, 0, W, H);
  ctx.font = font;
  ctx.fillStyle = dark ? '#e7e9ee' : '#1b1d22';
  ctx.textBaseline = 'middle';
  ctx.textAlign = 'right';
  tgt.forEach((t, i) => ctx.fillText(t, left - 6, top + cell * i + cell / 2, left - 8));
  ctx.save();
  ctx.textAlign = 'left';
  src.forEach((t, j) => {
    ctx.save();
    ctx.translate(left + cell * j + cell / 2, top - 6);
    ctx.rotate(-Math.PI / 2);
    ctx.fillText(t, 0, 0, top - 8);
    ctx.restore();
  });
  ctx.restore();
  for (let i = 0; i < a.nTgt; i++) for (let j = 0; j < a.nSrc; j++) {
    const v = Math.max(0, Math.min(1, m[i * a.nSrc + j]));
    const g = Math.round(255 * (1 - Math.sqrt(v)));
    ctx.fillStyle = dark ? `rgb(${255 - g}, ${255 - g}, ${Math.min(255, 280 - g)})` : `rgb(${g}, ${g}, ${Math.min(255, g + 40)})`;
    ctx.fillRect(left + cell * j, top + cell * i, cell - 1, cell - 1);
  }
  canvas.setAttribute('aria-label', `Cross-attention heatmap: ${a.nTgt} target tokens by ${a.nSrc} source tokens`);
  // The same as text: the source token each target token looks at most.
  const pairs = [];
  for (let i = 0; i < a.nTgt; i++) {
    let best = 0;
    for (let j = 1; j < a.nSrc; j++) if (m[i * a.nSrc + j] > m[i * a.nSrc + best]) best = j;
    pairs.push(`${tgt[i]} → ${src[best]} (${(100 * m[i * a.nSrc + best]).toFixed(0)}%)`);
  }
  $('att-align').textContent = `Strongest link of each target token: ${pairs.join(', ')}.`;
}

// ---- startup -------------------------------------------------------------------------------

// Offline or not, and what is kept for offline use.
let shellStored = false;
function showOffline() {
  const n = store.list().length;
  let t;
  if (navigator.onLine === false) t = n ? `Offline: the ${n} stored model${n === 1 ? '' : 's'} still work.` : 'Offline, and no model is stored yet.';
  else if (shellStored) t = n ? `Works offline: the page and ${n} model${n === 1 ? '' : 's'} are stored.` : 'The page is stored for offline use; models are stored when first used.';
  else t = '';
  $('offline-status').textContent = t;
}

// A link can carry the text to translate (?text=…, optionally &from=en|es,
// as translation sites take it): the Translate tab opens with it and
// translates at once, while the model is still loading if it must.
const linked = (() => {
  const q = new URLSearchParams(location.search);
  const text = q.get('text');
  if (!text || !text.trim()) return false;
  $('src').value = text;
  const from = q.get('from');
  if (from === 'en' || from === 'es') $('from').value = from;
  return true;
})();
showDirection();
showInUse();
fillAttentionSelectors();
if (matchMedia('(min-width: 720px)').matches) $('chat-settings').open = true;
selectTab(linked ? $('tab-translate') : tabs.find((x) => '#' + x.id.replace('tab-', '') === location.hash) || tabs[0]);
if (linked) runTranslate();
{
  const iso = globalThis.crossOriginIsolated ? 'cross-origin isolated' : 'not cross-origin isolated';
  engine().then(
    (module) => {
      // The build the workers run (docs/simd.md); simdError: why not the relaxed one that was wanted.
      const simd = simdOf(module) === 'relaxed' ? 'relaxed SIMD' : 'SIMD128';
      $('engine-status').textContent = `WebAssembly engine ready (${iso}, ${simd}).${simdError() ? ` Relaxed SIMD unavailable: ${simdError()}` : ''}`;
    },
    (e) => { $('engine-status').textContent = 'The engine cannot start.'; notice(`The atento engine cannot start: ${e.message}`); },
  );
}
// The service worker's install fetches the whole app shell (the wasm
// modules among it): it waits until the first model is in use, so on a first
// visit it never competes with that download.
if ('serviceWorker' in navigator) {
  // sw.js?simd=relaxed also keeps the relaxed-SIMD modules (web/sw.js).
  whenIdle().then(() => navigator.serviceWorker.register(relaxedSimdSupported() ? 'sw.js?simd=relaxed' : 'sw.js')).then(async () => {
    await navigator.serviceWorker.ready;
    shellStored = true;
    showOffline();
  }).catch((e) => { $('offline-status').textContent = `Offline use unavailable (${e.message}).`; });
}
addEventListener('online', showOffline);
addEventListener('offline', showOffline);
showOffline();
store.tidy();

// For the tests and the curious.
window.atento = {
  slots, openModel, ensureModel, refreshModelLists, store, timeline,
  showAttention(entries) { lastAttention = entries; fillAttentionSelectors(); },
};
