// worker.js — runs js/core.js off the main thread and speaks the atento
// worker protocol (docs/worker-protocol.md). The same file is a browser
// module Worker and a Node worker_threads worker:
//
//   new Worker(new URL('./worker.js', import.meta.url), { type: 'module' })   // browser
//   new (await import('node:worker_threads')).Worker(new URL('./worker.js', import.meta.url))  // Node
//
// One worker holds at most one model. Jobs (generate, chat, translate) run
// one at a time in arrival order; between tokens the worker yields to its
// event loop so that `abort` (and new jobs) are received at once, and it also
// reads the shared abort flag when the page is cross-origin isolated.
// No model logic lives here: every step is a call into the C API via core.js.
import { initAtento, AtentoError } from './core.js';
import { checkGenerate, checkChat, checkTranslate, checkText, otherLanguage } from './options.js';
import { readableBytes } from './bytes.js';
import { detectLanguage, textIsIn, modelTargets, chooseDirection } from './direction.js';
import { finetuneStream } from './finetune.js';
import { BuiltinTools, declaredTools, MAX_TOOL_ROUNDS } from './tools.js';

const utf8decoder = new TextDecoder('utf-8');
// TextDecoder refuses views of a SharedArrayBuffer (the threaded module's memory): copy those first.
const utf8dec = { decode: (v) => utf8decoder.decode(typeof SharedArrayBuffer !== 'undefined' && v.buffer instanceof SharedArrayBuffer ? v.slice() : v) };
const now = () => performance.now();

// ---- transport ----------------------------------------------------------------

let postNow;
const isBrowserWorker = typeof self !== 'undefined' && typeof self.postMessage === 'function' && typeof WorkerGlobalScope !== 'undefined';
if (isBrowserWorker) {
  postNow = (m, transfer) => self.postMessage(m, transfer || []);
  self.onmessage = (e) => onMessage(e.data);
} else {
  const { parentPort } = await import('node:worker_threads');
  if (!parentPort) throw new Error('js/worker.js must run as a worker (browser Worker or node:worker_threads)');
  postNow = (m, transfer) => parentPort.postMessage(m, transfer || []);
  parentPort.on('message', (m) => onMessage(m));
}

// Streamed tokens leave in batches: one message per token costs a wake-up of
// the receiving thread each (and, in a browser, of its IPC), which takes a
// core from the decoding threads when every core decodes. The first token of
// a job leaves at once, later ones at most every TOKEN_FLUSH_MS (one frame),
// as one 'tokens' message; any other message sends the held tokens first.
const TOKEN_FLUSH_MS = 16;
let heldTokens = [];
let lastFlush = 0;
let tokensOf = null; // the job whose tokens were sent or held last

function flushTokens() {
  if (!heldTokens.length) return;
  const items = heldTokens;
  heldTokens = [];
  postNow(items.length === 1 ? items[0] : { type: 'tokens', id: items[0].id, items });
  lastFlush = now();
}

/* Hold a token message (a job's first leaves at once); returns whether the
 * held ones left (the caller yields then, to let queued messages such as an
 * abort in). */
function postToken(msg) {
  const first = msg.id !== tokensOf;
  if (first) {
    flushTokens();
    tokensOf = msg.id;
  }
  heldTokens.push(msg);
  if (!first && now() - lastFlush < TOKEN_FLUSH_MS) return false;
  flushTokens();
  return true;
}

/* Send the held tokens if they have waited TOKEN_FLUSH_MS (a step that
 * streams nothing still lets them out in time). */
function flushTokensIfDue() {
  if (heldTokens.length && now() - lastFlush >= TOKEN_FLUSH_MS) flushTokens();
}

function post(m, transfer) {
  flushTokens();
  postNow(m, transfer);
}

// Let queued messages (abort!) in: a macrotask boundary without the 4 ms clamp
// setTimeout gets when nested.
const yieldNow = (() => {
  if (typeof setImmediate === 'function') return () => new Promise((r) => setImmediate(r));
  const ch = new MessageChannel();
  const waiting = [];
  ch.port1.onmessage = () => waiting.shift()?.();
  return () => new Promise((r) => { waiting.push(r); ch.port2.postMessage(0); });
})();

// ---- state --------------------------------------------------------------------

let rt = null;            // core.js runtime (one wasm instance)
let runtimeAhead = null;  // its start, asked for by an `init` before the first load
let model = null;         // core.js Model
let modelInfo = null;
let abortFlag = null;     // Int32Array over a SharedArrayBuffer: [id of the job to abort]
const aborted = new Set(); // ids of jobs asked to stop
const queue = [];
let running = null;       // the job being run
let disposed = false;

// The chat session is kept between chat jobs so a new turn only evaluates
// its own tokens (the KV cache of the previous turns is reused).
let chatSession = null;

function errorOf(e) {
  if (e instanceof AtentoError) return { code: e.code, message: e.message };
  if (e && e.name === 'RangeError' && /memory/i.test(e.message)) return { code: 'E_NOMEM', message: `out of memory: ${e.message}` };
  return { code: (e && e.code) || 'E_INTERNAL', message: (e && e.message) || String(e) };
}

function fail(code, message) { throw new AtentoError(code, message); }

function onMessage(msg) {
  if (!msg || typeof msg !== 'object') return;
  switch (msg.type) {
    case 'abort':
      if (msg.id === undefined || msg.id === null) {
        if (running) aborted.add(running.id);
        for (const j of queue) aborted.add(j.id);
      } else aborted.add(msg.id);
      return;
    case 'init':
      if (msg.abortFlag) abortFlag = new Int32Array(msg.abortFlag);
      // The runtime started ahead of the first load (a page that starts
      // its worker early); the load waits for it, or starts its own if it failed.
      if (msg.start && !rt && !runtimeAhead) {
        runtimeAhead = initAtento(msg.wasm ?? undefined, { threads: msg.threads ?? 1, threadedWasm: msg.threadedWasm ?? undefined, simd: msg.simd ?? undefined });
        runtimeAhead.catch(() => {});
      }
      return;
    case 'load': case 'generate': case 'chat': case 'translate': case 'detect': case 'tokenize': case 'reset': case 'dispose': case 'finetune': case 'selftest':
      if (disposed) {
        post({ type: 'error', id: msg.id, code: 'E_DISPOSED', message: 'the model was disposed' });
        return;
      }
      queue.push(msg);
      if (msg.type === 'dispose') {
        // Dispose stops everything still waiting or running.
        if (running) aborted.add(running.id);
        for (const j of queue) if (j !== msg) aborted.add(j.id);
      }
      pump();
      return;
    default:
      post({ type: 'error', id: msg.id, code: 'E_ARG', message: `unknown message type '${msg.type}'` });
  }
}

async function pump() {
  if (running) return;
  while (queue.length) {
    const job = queue.shift();
    running = job;
    tokensOf = null; // its first streamed token leaves at once (postToken), whatever its id
    try {
      // a trap whose E_ABORT a handler reported itself: the model is loaded
      // again before the next job
      if (trappedFile && job.type !== 'dispose') await reloadAfterTrap('');
      if (aborted.has(job.id) && job.type !== 'dispose') {
        post({ type: 'done', id: job.id, reason: 'abort', text: '', tokens: [] });
      } else {
        await handlers[job.type](job);
      }
    } catch (e) {
      const err = errorOf(e);
      if (err.code === 'E_ABORT' && trappedFile) err.message = await reloadAfterTrap(err.message);
      post({ type: 'error', id: job.id, ...err });
    } finally {
      aborted.delete(job.id);
      running = null;
    }
  }
}

function isAborted(job) {
  return aborted.has(job.id) || (abortFlag !== null && Atomics.load(abortFlag, 0) === job.id);
}

function needModel() {
  if (!model) fail('E_NOMODEL', 'no model is loaded yet');
  return model;
}

// ---- recovery after a trap -------------------------------------------------------
// A trap discards the WebAssembly instance (js/core.js starts a fresh one),
// and the model with it. Before the old memory goes, the model file's bytes
// are copied out of it (the model never writes them), and once the request
// that trapped has unwound the model is loaded again into the fresh
// instance: that request fails with E_ABORT, the next one works.

let trappedFile = null;  // the model file, copied out of a discarded instance
let loadThreads = 1;     // the thread count the load asked for

function keepModelFile(memory) {
  if (!model || !model.filePtr || model.epoch !== rt.epoch) return;
  trappedFile = new Uint8Array(memory.buffer, model.filePtr, model.fileSize).slice();
}

async function reloadAfterTrap(message) {
  const bytes = trappedFile;
  trappedFile = null;
  chatSession = null; // its cache lived in the discarded memory
  builtinTools = null; // so did the tools' dictionary and translation model (loaded again on use)
  model = null;
  const what = message.replace(/: load the model again$/, '');
  try {
    model = rt.loadModel(bytes);
    if (rt.threaded && loadThreads !== 1 && (await rt.setThreads(loadThreads)) > 1) rt.threadsError = '';
    modelInfo = { ...modelInfo, memoryBytes: rt.memoryBytes, threads: rt.threads, threadsError: rt.threadsError || null };
    return `${what}; the model was loaded again`;
  } catch (e) {
    model = null;
    return `${what}; loading the model again failed (${errorOf(e).message}): load it again`;
  }
}

// ---- load ---------------------------------------------------------------------

function progressReporter(id, phase) {
  let last = 0;
  const t0 = now();
  return (loaded, total, force = false) => {
    const t = now();
    if (!force && t - last < 100) return;
    last = t;
    const secs = (t - t0) / 1000;
    post({ type: 'progress', id, phase, loaded, total: total || 0, bytesPerSecond: secs > 0 ? loaded / secs : 0 });
  };
}

// Read a stream of chunks straight into wasm memory reserved for the model.
// With an unknown (or wrong, e.g. compressed) size the chunks are gathered
// first and copied once at the end.
async function readIntoModel(job, reader, total, report) {
  let buf = null;
  let chunks = null;
  if (total > 0) buf = rt.reserve(total);
  else chunks = [];
  let off = 0;
  try {
    for (;;) {
      if (isAborted(job)) fail('E_ABORTED', 'loading was cancelled');
      const { value, done } = await reader.read();
      if (done) break;
      if (buf && off + value.length > total) {
        // More bytes than announced: fall back to gathering chunks.
        chunks = [buf.view().slice(0, off)];
        buf.free();
        buf = null;
      }
      if (buf) buf.set(value, off);
      else chunks.push(value);
      off += value.length;
      report(off, buf ? total : 0);
    }
    report(off, off, true);
    if (buf && off !== total) fail('E_FETCH', `the download ended after ${off} of ${total} bytes`);
    if (!buf) {
      buf = rt.reserve(off);
      let o = 0;
      for (const c of chunks) { buf.set(c, o); o += c.length; }
      chunks = null;
    }
    const b = buf;
    buf = null;
    return b.load();
  } finally {
    buf?.free();
  }
}

// A file of the Origin Private File System (the page's stored models): read
// with a read-only sync access handle straight into the wasm memory reserved
// for the model, in a few large reads (no stream of small chunks, no copy in
// between). Another tab writing the file holds it: then it is read as a Blob.
async function openFileHandle(fh) {
  let h = null;
  try {
    h = await fh.createSyncAccessHandle({ mode: 'read-only' });
  } catch {
    return null;
  }
  const total = h.getSize();
  return {
    total,
    phase: 'read',
    readAll(dst, report) {
      const STEP = 1 << 23;
      let off = 0;
      while (off < total) {
        const n = h.read(dst.subarray(off, Math.min(total, off + STEP)), { at: off });
        if (n <= 0) break;
        off += n;
        report(off, total);
      }
      return off;
    },
    close: () => h.close(),
  };
}

// A source that reads itself into memory (openFileHandle): one buffer, filled in place.
function readAllIntoModel(src, report) {
  const buf = rt.reserve(src.total);
  try {
    const n = src.readAll(buf.view(), report);
    report(n, src.total, true);
    if (n !== src.total) fail('E_LOAD', `the stored model file ended after ${n} of ${src.total} bytes`);
    return buf.load();
  } finally {
    buf.free();
  }
}

// A download the caller keeps (source.storeTo: a file of the Origin Private
// File System): each chunk is also written to that file, here, as it is
// read, so the bytes cross no other thread and are held nowhere else. The
// copy is best effort: a failure (no room) ends the copy, not the load.
// `loaded.info.stored` says {bytes} written, or {bytes: 0, error}.
async function storing(opened, fileHandle) {
  const state = { bytes: 0, error: null };
  let h = null;
  try {
    h = await fileHandle.createSyncAccessHandle();
    h.truncate(0);
  } catch (e) {
    state.error = e.message;
    h?.close();
    h = null;
  }
  const reader = opened.reader;
  return {
    ...opened,
    stored: state,
    reader: {
      async read() {
        const r = await reader.read();
        if (h && !state.error) {
          try {
            if (!r.done) state.bytes += h.write(r.value, { at: state.bytes });
            else h.flush();
          } catch (e) {
            state.error = e.message;
          }
        }
        return r;
      },
    },
    close() {
      try { h?.close(); } catch { /* closed */ }
      h = null;
    },
  };
}

async function openSource(job) {
  const src = job.source || {};
  if (src.fileHandle) {
    const direct = typeof src.fileHandle.createSyncAccessHandle === 'function' ? await openFileHandle(src.fileHandle) : null;
    if (direct) return direct;
    let file;
    try {
      file = await src.fileHandle.getFile();
    } catch (e) {
      fail('E_LOAD', `cannot read the stored model: ${e.message}`);
    }
    return { total: file.size, reader: file.stream().getReader(), phase: 'read' };
  }
  if (src.bytes) {
    const u8 = src.bytes instanceof Uint8Array ? src.bytes : ArrayBuffer.isView(src.bytes)
      ? new Uint8Array(src.bytes.buffer, src.bytes.byteOffset, src.bytes.byteLength) : new Uint8Array(src.bytes);
    let done = false;
    return { total: u8.length, reader: { read: async () => (done ? { done: true } : (done = true, { done: false, value: u8 })) }, phase: 'read' };
  }
  if (src.stream) return { total: src.size || 0, reader: src.stream.getReader(), phase: 'download' };
  if (src.blob) {
    if (typeof src.blob.stream !== 'function') fail('E_ARG', 'load: the file cannot be read');
    return { total: src.blob.size, reader: src.blob.stream().getReader(), phase: 'read' };
  }
  if (src.path) {
    const { open } = await import('node:fs/promises');
    let fh;
    try {
      fh = await open(src.path, 'r');
      const st = await fh.stat();
      if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
      let pos = 0;
      const reader = {
        async read() {
          const b = new Uint8Array(Math.min(1 << 24, Math.max(0, st.size - pos)));
          if (b.length === 0) { await fh.close(); return { done: true }; }
          const { bytesRead } = await fh.read(b, 0, b.length, pos);
          if (bytesRead === 0) { await fh.close(); fail('E_LOAD', `${src.path}: the file shrank while it was read`); }
          pos += bytesRead;
          return { done: false, value: b.subarray(0, bytesRead) };
        },
      };
      return { total: st.size, reader, phase: 'read', close: () => fh.close().catch(() => {}) };
    } catch (e) {
      await fh?.close().catch(() => {});
      if (e instanceof AtentoError) throw e;
      const why = { ENOENT: 'no such file', EACCES: 'permission denied', EISDIR: 'is a directory' }[e.code] || e.message;
      fail('E_LOAD', `cannot open model '${src.path}': ${why}`);
    }
  }
  if (src.url) {
    let res = null;
    let cache = null;
    if (src.cacheName && typeof caches !== 'undefined') {
      try {
        cache = await caches.open(src.cacheName);
        res = (await cache.match(src.url)) || null;
      } catch { cache = null; }
    }
    const fromCache = !!res;
    if (!res) {
      try {
        res = await fetch(src.url);
      } catch (e) {
        fail('E_FETCH', `cannot download ${src.url}: ${e.message} (offline?)`);
      }
      if (!res.ok) fail('E_FETCH', `cannot download ${src.url}: HTTP ${res.status}${res.statusText ? ' ' + res.statusText : ''}`);
      if (cache) {
        // Store a copy while reading ours; a failure to store is not fatal.
        cache.put(src.url, res.clone()).catch(() => {});
      }
    }
    if (!res.body) fail('E_FETCH', `cannot download ${src.url}: empty response`);
    const enc = res.headers.get('content-encoding');
    const len = Number(res.headers.get('content-length'));
    const total = !enc || enc === 'identity' ? (Number.isFinite(len) && len > 0 ? len : 0) : 0;
    const opened = { total, reader: res.body.getReader(), phase: fromCache ? 'cache' : 'download' };
    return src.storeTo ? storing(opened, src.storeTo) : opened;
  }
  fail('E_ARG', 'load: give a URL, a path, bytes or a File/Blob');
}

const handlers = {
  async load(job) {
    if (model) fail('E_ARG', 'this worker already holds a model (one model per worker)');
    // The source is opened (a download starts) while the module starts.
    const opening = openSource(job);
    opening.catch(() => {});
    try {
      if (!rt && runtimeAhead) rt = await runtimeAhead.catch(() => null);
      if (!rt) rt = await initAtento(job.wasm ?? undefined, { threads: job.threads ?? 1, threadedWasm: job.threadedWasm ?? undefined, simd: job.simd ?? undefined });
    } catch (e) {
      opening.then((s) => s.close?.(), () => {});
      throw e;
    }
    const src = await opening;
    const report = progressReporter(job.id, src.phase);
    report(0, src.total, true);
    const t0 = now();
    let m;
    try {
      m = src.readAll ? readAllIntoModel(src, report) : await readIntoModel(job, src.reader, src.total, report);
      if (src.readAll || src.stored) src.close();
    } catch (e) {
      src.close?.();
      if (e instanceof AtentoError && e.code === 'E_LOAD' && job.name) e.message = `${job.name}: ${e.message}`;
      throw e;
    }
    model = m;
    loadThreads = job.threads ?? 1;
    rt.onTrap = keepModelFile;
    let info = {};
    try { info = m.info(); } catch { /* the summary below is enough */ }
    const kind = m.arch === 'marian' ? 'translate' : 'chat';
    modelInfo = {
      name: job.name || '',
      arch: m.arch,
      kind,
      nVocab: m.nVocab,
      nCtxTrain: m.nCtxTrain,
      fileSize: m.fileSize,
      chatTemplate: kind === 'chat' ? m.chatTemplate() : null,
      memoryBytes: rt.memoryBytes,
      threads: rt.threads, // 1 with the single-thread module; threadsError says why threads were not used
      threadsError: rt.threadsError || null,
      simd: rt.simd, // 'relaxed' or 'simd128': the build that runs (docs/simd.md)
      simdError: rt.simdError || null, // why the relaxed build was wanted but not used
      loadMs: now() - t0,
      // The languages a translation model translates into (its >>xx<< tags;
      // [] for one direction only, null when they cannot be listed).
      targets: kind === 'translate' ? modelTargets(m) : null,
      // The tools a chat model was trained to call (GGUF atento.tools): run
      // by the worker when a chat request gives no tools (docs/chat.md).
      tools: kind === 'chat' ? declaredTools(m) : null,
      // With source.storeTo: the bytes written to that file (storing()).
      ...(src.stored ? { stored: { bytes: src.stored.error ? 0 : src.stored.bytes, ...(src.stored.error ? { error: src.stored.error } : {}) } } : {}),
      info,
    };
    post({ type: 'loaded', id: job.id, info: modelInfo });
  },

  // Fine-tuning (docs/training.md): one 'progress' message per optimizer step
  // ({phase: 'finetune', step, steps, loss}), then 'done' with the new GGUF
  // bytes (transferred); abort stops between steps (reason 'abort', no bytes).
  async finetune(job) {
    const m = needModel();
    if (modelInfo.kind !== 'translate') fail('E_KIND', `only translation (marian) models can be fine-tuned; this model is '${m.arch}'`);
    const pairs = job.pairs;
    if (!Array.isArray(pairs) || pairs.length === 0) fail('E_ARG', 'finetune: pairs must be a non-empty array of {source, target}');
    const list = pairs.map((p, i) => {
      const [source, target] = Array.isArray(p) ? p : [p?.source, p?.target];
      if (typeof source !== 'string' || typeof target !== 'string') fail('E_ARG', `finetune: pair ${i + 1} is not {source, target} strings`);
      return { source, target };
    });
    const o = job.opts || {};
    const replay = Array.isArray(o.replay) ? o.replay.filter((x) => typeof x === 'string') : [];
    const it = finetuneStream(rt, m, list, { to: o.to ?? null, steps: o.steps ?? 0, lr: o.lr ?? 0, seed: o.seed ?? 1, replay });
    const t0 = now();
    const losses = [];
    for (;;) {
      const r = it.next();
      if (r.done) {
        const { bytes, info } = r.value;
        post({ type: 'done', id: job.id, reason: 'done', bytes, info, losses, trainMs: now() - t0, memoryBytes: rt.memoryBytes }, [bytes.buffer]);
        return;
      }
      losses.push(r.value.loss);
      post({ type: 'progress', id: job.id, phase: 'finetune', ...r.value });
      await yieldNow();
      if (isAborted(job)) {
        it.return();
        post({ type: 'done', id: job.id, reason: 'abort', losses });
        return;
      }
    }
  },

  async tokenize(job) {
    const m = needModel();
    const ids = Array.from(m.tokenize(job.text, { addSpecial: job.addSpecial ?? true, parseSpecial: job.parseSpecial ?? false }));
    post({ type: 'done', id: job.id, reason: 'done', tokens: ids, pieces: ids.map((i) => m.piece(i)) });
  },

  async reset(job) {
    chatSession?.free();
    chatSession = null;
    post({ type: 'done', id: job.id, reason: 'done' });
  },

  async generate(job) {
    const m = needModel();
    if (modelInfo.kind !== 'chat') fail('E_KIND', `this model (${m.arch}) translates; it cannot generate free text`);
    const opts = job.opts || {};
    checkGenerate(job.prompt, opts);
    const ids = Array.isArray(job.prompt) || ArrayBuffer.isView(job.prompt)
      ? Array.from(job.prompt)
      : Array.from(m.tokenize(String(job.prompt ?? ''), { addSpecial: opts.addSpecial ?? true, parseSpecial: opts.parseSpecial ?? false }));
    if (ids.length === 0) fail('E_ARG', 'the prompt is empty (no tokens)');
    const s = m.newSession(opts.nCtx ?? 0, { kvType: opts.kvType });
    try {
      await decode(job, s, ids, opts);
    } finally {
      s.free();
    }
  },

  async chat(job) {
    const m = needModel();
    if (modelInfo.kind !== 'chat') fail('E_KIND', `this model (${m.arch}) translates; load a chat model to chat`);
    let opts = job.opts || {};
    checkChat(job.messages, opts);
    const messages = checkMessages(job.messages);
    // tools: false turns the model's built-in tools off; no tools given: the model's own (if any) run here.
    if (opts.tools === false) opts = { ...opts, tools: undefined };
    else if (opts.tools === undefined && modelInfo.tools) {
      await chatWithBuiltinTools(job, messages, opts);
      return;
    }
    post({ toolRuns: [], ...(await chatRound(job, messages, opts, chatVars(opts), opts.tools ? toolCallsOf : null)) });
  },

  async translate(job) {
    const m = needModel();
    if (modelInfo.kind !== 'translate') fail('E_KIND', `this model (${m.arch}) is not a translation model; load a marian model to translate`);
    await translate(job, m, job.text, job.opts || {});
  },

  // The language of a text ('en', 'es' or null) and how sure the detector is.
  async detect(job) {
    needModel();
    checkText('the text', job.text);
    const d = detectLanguage(rt, job.text);
    post({ type: 'done', id: job.id, reason: 'done', language: d.language, confidence: d.confidence });
  },

  // A deliberate trap ('unreachable' or 'stack-overflow'), to test the
  // recovery above on the real module (docs/worker-protocol.md).
  async selftest(job) {
    needModel();
    const kind = { unreachable: 0, 'stack-overflow': 1 }[job.trap];
    if (kind === undefined) fail('E_ARG', `selftest: trap must be 'unreachable' or 'stack-overflow', got '${job.trap}'`);
    rt.fn('atn_selftest_trap')(kind);
    fail('E_INTERNAL', `selftest: the ${job.trap} trap did not trap`);
  },

  async dispose(job) {
    chatSession?.free();
    chatSession = null;
    model?.free();
    model = null;
    disposed = true;
    await rt?.dispose(); // the pool's workers leave before this one closes
    post({ type: 'disposed', id: job.id });
    // Let the message leave before the worker closes.
    setTimeout(() => { if (isBrowserWorker) self.close(); else process.exit(0); }, 0);
  },
};

// One reply to `messages`, from the kept KV cache (only the new tokens are
// evaluated). Returns the `done` message (not posted). finish(text): more
// members of the result (the tool calls); onPiece(msg): instead of posting
// each token message.
async function chatRound(job, messages, opts, vars, finish = null, onPiece = null) {
  const m = needModel();
  if (!chatSession || (opts.nCtx && chatSession.nCtx !== opts.nCtx) || chatSession.kvType !== (opts.kvType ?? 'f32')) {
    chatSession?.free();
    chatSession = null;
    chatSession = m.newSession(opts.nCtx ?? 0, { kvType: opts.kvType });
  }
  const nCtx = chatSession.nCtx;
  const maxTokens = clampInt(opts.maxTokens ?? 256, 1, nCtx - 1);
  // Room kept for the reply when old turns must be dropped: maxTokens, but
  // never more than half the context (the reply may still use all the
  // room that is left).
  const reserve = Math.min(maxTokens, Math.floor(nCtx / 2));
  const t0 = now();
  const before = chatSession.nPast;
  let r;
  try {
    r = chatSession.chatPrefill(messages, reserve, vars);
  } catch (e) {
    // The cache state is unknown after a failure: start afresh next time.
    chatSession.free();
    chatSession = null;
    throw e;
  }
  const reused = chatSession.nPast - r.evaluated;
  return decode(job, chatSession, [], { ...opts, maxTokens: Math.min(maxTokens, nCtx - chatSession.nPast) }, {
    droppedMessages: r.dropped, reusedTokens: reused, cachedBefore: before,
    // with tools, the reply's calls (docs/chat.md: tool calls)
    ...(finish ? { finish } : {}),
    hold: true,
    ...(onPiece ? { onPiece } : {}),
  }, t0, r.evaluated);
}

// ---- built-in tools (docs/chat.md, "Built-in tools") ----------------------------
//
// A chat model that declares GGUF atento.tools, asked without tools, is shown
// its tools; each call it makes is run here (js/tools.js: the translation
// model and the dictionary, loaded on first use into this worker's runtime),
// the results go back as `tool` messages and the model continues, at most
// MAX_TOOL_ROUNDS times. The `done` message is the last reply's, plus
// `messages` (the conversation with the tool turns) and `toolRuns`
// ([{name, arguments, result}]). Token messages carry `round`; a reply that
// is a tool call is not streamed (the caller sees only the answer's text).

let builtinTools = null;
let toolSourcesNow = {}; // the running job's opts.toolSources

async function defaultToolSource(kind) {
  if (!isBrowserWorker && typeof process !== 'undefined' && process.versions?.node) {
    const { shippedModel } = await import('./models.js');
    return { path: shippedModel(kind) };
  }
  const file = kind === 'translate' ? 'translate-en-es.gguf' : 'dict-en-es.tsv';
  return { url: new URL(`../models/${file}`, import.meta.url).href };
}

function toolSource(kind) {
  return async () => {
    const s = toolSourcesNow?.[kind];
    if (s && typeof s === 'object') return s;
    if (typeof s === 'string') return /^[a-z][a-z0-9+.-]*:/i.test(s) && !s.startsWith('file:') ? { url: s } : { path: s.startsWith('file:') ? new URL(s).pathname : s };
    return defaultToolSource(kind);
  };
}

// Holds a reply's first pieces until it is clear whether it is a tool call
// (then none of it is shown) or text (then all of it is).
function pieceGate(round) {
  let held = [];
  let mode = 'undecided'; // 'text' | 'call'
  const flush = () => { for (const x of held) post(x); held = []; };
  return {
    onPiece(msg) {
      msg.round = round;
      if (mode === 'text') { post(msg); return; }
      if (mode === 'call') return;
      held.push(msg);
      const text = held.map((x) => x.text).join('').trimStart();
      if (text.startsWith('<tool_call>')) { mode = 'call'; held = []; } else if (!'<tool_call>'.startsWith(text)) { mode = 'text'; flush(); }
    },
    end() { if (mode === 'undecided') flush(); },
  };
}

async function chatWithBuiltinTools(job, messages, opts) {
  builtinTools ??= new BuiltinTools(rt, { translate: toolSource('translate'), dictionary: toolSource('dictionary') });
  toolSourcesNow = opts.toolSources || {};
  const vars = { ...(chatVars(opts) || {}), tools: modelInfo.tools };
  const msgs = messages.slice();
  const toolRuns = [];
  for (let round = 0; ; round++) {
    const gate = pieceGate(round);
    const r = await chatRound(job, msgs, opts, vars, toolCallsOf, gate.onPiece);
    gate.end();
    const calls = r.toolCalls || [];
    if (r.reason === 'abort' || (!calls.length && !r.toolCallError) || round >= MAX_TOOL_ROUNDS) {
      post({ ...r, messages: msgs, toolRuns, rounds: round + 1 });
      return;
    }
    msgs.push({ role: 'assistant', content: r.text });
    if (r.toolCallError) msgs.push({ role: 'tool', content: `error: the tool call could not be read: ${r.toolCallError}` });
    for (const call of calls) {
      const result = await builtinTools.run(call);
      toolRuns.push({ name: call.name, arguments: call.arguments, result });
      msgs.push({ role: 'tool', content: result });
    }
  }
}

function clampInt(v, lo, hi) {
  v = Math.trunc(Number(v));
  if (!Number.isFinite(v)) fail('E_ARG', `expected a number, got ${v}`);
  return Math.max(lo, Math.min(hi, v));
}

// Template variables of a chat request: tools (OpenAI-style definitions)
// and any others the template reads (templateVars, e.g. enable_thinking).
function chatVars(opts) {
  if (opts.tools !== undefined && !Array.isArray(opts.tools)) fail('E_ARG', 'chat: tools must be an array of tool definitions');
  if (opts.templateVars !== undefined && (typeof opts.templateVars !== 'object' || opts.templateVars === null || Array.isArray(opts.templateVars)))
    fail('E_ARG', 'chat: templateVars must be an object');
  if (!opts.tools && !opts.templateVars) return null;
  return { ...(opts.templateVars || {}), ...(opts.tools ? { tools: opts.tools } : {}) };
}

function toolCallsOf(text) {
  try {
    const r = rt.parseToolCalls(text);
    return { content: r.content, toolCalls: r.toolCalls };
  } catch (e) {
    return { content: text, toolCalls: [], toolCallError: e.message };
  }
}

function checkMessages(messages) {
  if (!Array.isArray(messages) || messages.length === 0) fail('E_ARG', 'chat: messages must be a non-empty array of {role, content}');
  return messages.map((x, i) => {
    if (!x || typeof x.role !== 'string' || typeof x.content !== 'string') fail('E_ARG', `chat: message ${i} must be {role: string, content: string}`);
    return { role: x.role, content: x.content };
  });
}

// ---- chat: the C core renders the template and reuses the KV cache ---------------

// ---- decoding loop --------------------------------------------------------------

// Top-n probabilities of the distribution the next token is drawn from
// (softmax of the raw logits, temperature 1).
function topProbs(m, session, n) {
  const p = rt.fn('atn_logits')(session.ptr, -1) >>> 0;
  if (!p) return [];
  const V = m.nVocab;
  const l = new Float32Array(rt.memory.buffer, p, V);
  let max = -Infinity;
  for (let i = 0; i < V; i++) if (l[i] > max) max = l[i];
  let sum = 0;
  const best = []; // [logit, id] sorted descending, length <= n
  for (let i = 0; i < V; i++) {
    const x = l[i];
    sum += Math.exp(x - max);
    if (best.length < n || x > best[best.length - 1][0]) {
      let k = best.length < n ? best.length : n - 1;
      while (k > 0 && best[k - 1][0] < x) { best[k] = best[k - 1]; k--; }
      best[k] = [x, i];
    }
  }
  return best.map(([x, id]) => ({ token: id, text: readableBytes(m.tokenToBytes(id)), p: Math.exp(x - max) / sum }));
}


// Evaluate `fresh` (in chunks, so that an abort is seen during a long
// prefill), then stream tokens until the end, the token limit or an abort.
async function decode(job, session, fresh, opts, extraIn = {}, t0 = now(), promptTokens = fresh.length) {
  // finish(text): more members of the result; hold: return the `done`
  // message instead of posting it; onPiece(msg): instead of posting tokens
  const { finish, hold, onPiece, ...extra } = extraIn;
  const m = model;
  const CHUNK = 64;
  for (let i = 0; i < fresh.length; i += CHUNK) {
    if (isAborted(job)) {
      const done = { type: 'done', id: job.id, reason: 'abort', text: '', tokens: [], stats: { promptTokens, genTokens: 0 }, ...extra };
      if (!hold) post(done);
      return done;
    }
    session.eval(fresh.slice(i, i + CHUNK));
    if (fresh.length > CHUNK) await yieldNow();
  }
  const t1 = now();
  const smp = m.newSampler(samplerOptions(opts));
  const topN = clampInt(opts.topN ?? 0, 0, 20);
  const maxTokens = clampInt(opts.maxTokens ?? 256, 0, 1 << 20);
  const stop = opts.stop === undefined ? [] : typeof opts.stop === 'string' ? [opts.stop] : opts.stop;
  const it = m.generate(session, smp, { maxTokens, stop });
  const tokens = [];
  let text = '';
  let reason = 'length';
  let result = null;
  try {
    for (;;) {
      if (isAborted(job)) { reason = 'abort'; break; }
      const top = topN > 0 && session.nPast < session.nCtx ? topProbs(m, session, topN) : undefined;
      const r = it.next();
      if (r.done) { result = r.value; reason = result.reason; break; }
      const { token, text: piece } = r.value;
      if (token >= 0) tokens.push(token);
      text += piece;
      const msg = { type: 'token', id: job.id, token, text: piece, index: tokens.length - 1 };
      if (top && token >= 0) msg.top = top;
      if (onPiece) {
        onPiece(msg);
        await yieldNow();
      } else if (postToken(msg)) {
        await yieldNow();
      }
    }
  } finally {
    it.return?.();
    smp.free();
  }
  const t2 = now();
  const decodeMs = t2 - t1;
  const done = {
    type: 'done', id: job.id, reason, text, tokens,
    stats: {
      promptTokens,
      genTokens: tokens.length,
      prefillMs: t1 - t0,
      decodeMs,
      tokensPerSecond: tokens.length > 0 && decodeMs > 0 ? (tokens.length / decodeMs) * 1000 : 0,
      nCtx: session.nCtx,
      nPast: session.nPast,
    },
    ...extra,
    ...(finish && reason !== 'abort' ? finish(text) : {}),
  };
  if (!hold) post(done);
  return done;
}

function samplerOptions(o) {
  const r = {};
  for (const k of ['temperature', 'topK', 'topP', 'minP', 'repeatPenalty', 'repeatLastN', 'seed']) if (o[k] !== undefined && o[k] !== null) r[k] = o[k];
  if (r.seed === undefined) r.seed = Math.floor(Math.random() * 2 ** 32);
  return r;
}

// ---- translation ----------------------------------------------------------------
//
// The C translator (atn_translator_*) splits the text into sentences, decodes
// each (greedy: a piece per token; beam: the sentence when its search ends)
// and keeps the whitespace between them; concatenating its pieces gives the
// translation. The worker only relays: a `sentence` message before a
// sentence's first piece, `token` for each piece, `sentence-done` with the
// ids and, when asked, the cross-attention weights.

const utf8enc = new TextEncoder();

function cText(f, t) {
  const lenp = rt.malloc(8);
  try {
    rt.view().setUint32(lenp, 0, true);
    const p = f(t, lenp) >>> 0;
    const n = rt.view().getUint32(lenp, true);
    return p && n ? utf8dec.decode(rt.u8.subarray(p, p + n)) : '';
  } finally {
    rt.free(lenp);
  }
}

function cIds(t, which) {
  const f = rt.fn('atn_translate_tokens');
  const n = f(t, which, 0, 0);
  if (n < 0) rt.fail('E_TRANSLATE', 'reading the tokens');
  if (n === 0) return [];
  const p = rt.malloc(4 * n);
  try {
    f(t, which, p, n);
    return Array.from(new Int32Array(rt.memory.buffer, p, n));
  } finally {
    rt.free(p);
  }
}

/** Sentences of `text` as the C core splits them: [{source, sep, start}] (sep: the whitespace after; start: the byte offset). */
function sentencesOf(bytes) {
  const f = rt.fn('atn_split_sentences');
  const [tp, tn] = rt.putBytes(bytes);
  try {
    const n = f(tp, tn, 0, 0);
    if (n < 0) rt.fail('E_TRANSLATE', 'splitting the text into sentences');
    const sp = rt.malloc(8 * n + 8);
    try {
      f(tp, tn, sp, 2 * n);
      const spans = new Int32Array(rt.memory.buffer, sp, 2 * n).slice();
      const out = [];
      for (let i = 0; i < n; i++) {
        const end = i + 1 < n ? spans[2 * i + 2] : bytes.length;
        out.push({ source: utf8dec.decode(bytes.subarray(spans[2 * i], spans[2 * i + 1])), sep: utf8dec.decode(bytes.subarray(spans[2 * i + 1], end)), start: spans[2 * i] });
      }
      return out;
    } finally {
      rt.free(sp);
    }
  } finally {
    rt.free(tp);
  }
}

// All the cross-attention weights of the sentence just finished:
// {nLayers, nHeads, nTgt, nSrc, data[layer][head][tgt][src]}.
function attentionOf(t, nSrc) {
  const f = rt.fn('atn_translate_attention');
  const n = f(t, -1, -1, 0, 0);
  if (n <= 0 || nSrc <= 0) return null;
  const nTgt = Math.floor(n / nSrc);
  let L = 0, H = 0;
  while (L < 256 && f(t, L, 0, 0, 0) >= 0) L++;
  while (H < 256 && f(t, 0, H, 0, 0) >= 0) H++;
  if (L === 0 || H === 0) return null;
  const data = new Float32Array(L * H * n);
  const p = rt.malloc(4 * n);
  try {
    for (let l = 0; l < L; l++) {
      for (let h = 0; h < H; h++) {
        if (f(t, l, h, p, n) !== n) rt.fail('E_TRANSLATE', 'reading the attention weights');
        data.set(new Float32Array(rt.memory.buffer, p, n), (l * H + h) * n);
      }
    }
  } finally {
    rt.free(p);
  }
  return { nLayers: L, nHeads: H, nTgt, nSrc, data };
}

// Mixed text (opts.mixed, no `to`): each sentence of three words or more
// goes the way its own language says. A shorter one, where a word or two
// decide and the detector is often sure and wrong ("Hello." looks Spanish),
// keeps its own language only when a long sentence next to it (the nearest
// before or after) has that language too; else it follows the one before
// (after, at the start; the whole text when no sentence is long). Neighbours
// in one language are translated together, as one text, so they are still
// decoded side by side. Returns [{start, end, from, to}] over the bytes of
// the text, in order, covering it; sets each sentence's from and to.
function languageRuns(sentences, dir, total, targets) {
  const words = (t) => t.split(/\s+/).filter((w) => /\p{L}/u.test(w)).length;
  const known = (t) => {
    const d = detectLanguage(rt, t).language;
    return d && otherLanguage(d, targets) ? d : null;
  };
  const long = sentences.map((s) => (words(s.source) >= 3 ? known(s.source) : null));
  const langs = long.slice();
  for (let i = 0; i < sentences.length; i++) {
    if (long[i]) continue;
    let before = null, after = null;
    for (let j = i - 1; j >= 0 && !before; j--) before = long[j];
    for (let j = i + 1; j < long.length && !after; j++) after = long[j];
    const own = known(sentences[i].source);
    langs[i] = own && (own === before || own === after) ? own : before ?? after ?? dir.from;
  }
  const runs = [];
  sentences.forEach((s, i) => {
    const from = langs[i] ?? dir.from;
    const to = otherLanguage(from, targets) || dir.to;
    s.from = from;
    s.to = to;
    if (runs.length && runs[runs.length - 1].to === to) return;
    runs.push({ start: runs.length ? s.start : 0, from, to });
  });
  if (!runs.length) return [{ start: 0, end: total, from: dir.from, to: dir.to }];
  runs.forEach((r, k) => { r.end = k + 1 < runs.length ? runs[k + 1].start : total; });
  return runs;
}

async function translate(job, m, text, opts) {
  checkTranslate(text, opts, modelInfo.targets);
  const beam = opts.beam ?? 1;
  const dir = chooseDirection(detectLanguage(rt, text), opts.to || undefined, modelInfo.targets, 'to', !!opts.to && textIsIn(rt, text, opts.to));
  if (dir.sameLanguage) {
    // Not translated again: the caller is told, and gets the text back as it is.
    post({ type: 'done', id: job.id, reason: 'same-language', text, tokens: [], sentences: [], from: dir.from, to: dir.to, note: dir.note,
      stats: { sentences: 0, genTokens: 0, decodeMs: 0, tokensPerSecond: 0 } });
    return;
  }
  const bytes = utf8enc.encode(text);
  const sentences = sentencesOf(bytes);
  const count = sentences.length;
  const newTranslator = (lang) => {
    const [lp] = rt.putString(lang);
    try {
      const t = rt.fn('atn_translator_new')(m.ptr, beam, lp, opts.attention ? 1 : 0) >>> 0;
      // the repeat guard (options checked by checkTranslate; left out: the library's default)
      if (t && (opts.noRepeatNgram != null || opts.noRepeatSpan != null)) rt.fn('atn_translator_set_repeat_guard')(t, opts.noRepeatNgram ?? -1, opts.noRepeatSpan ?? -1);
      return t;
    } finally {
      rt.free(lp);
    }
  };
  // One run of sentences per direction: the whole text, or with opts.mixed
  // (and no `to`) each stretch of sentences in one language (languageRuns).
  const runs = opts.mixed && !opts.to && modelInfo.targets?.length === 2
    ? languageRuns(sentences, dir, bytes.length, modelInfo.targets)
    : [{ start: 0, end: bytes.length, from: dir.from, to: dir.to }];
  const t0 = now();
  const results = [];
  let out = '';
  let index = 0;
  let started = false;
  let nTokens = 0;
  let reason = 'done';
  for (const run of runs) {
    if (reason === 'abort') break;
    const { from, to } = run;
    const t = newTranslator(to);
    if (!t) rt.fail('E_TRANSLATE', 'starting the translation');
    const piece = () => cText(rt.fn('atn_translate_piece'), t);
    try {
      const [tp, tn] = rt.putBytes(bytes.subarray(run.start, run.end));
      try {
        if (rt.fn('atn_translate_begin')(t, tp, tn) < 0) rt.fail('E_TRANSLATE', 'starting the translation');
      } finally {
        rt.free(tp);
      }
      for (;;) {
        if (isAborted(job)) { reason = 'abort'; break; }
        const r = rt.fn('atn_translate_next')(t);
        if (r < 0) rt.fail('E_TRANSLATE', 'translating');
        const text = piece();
        if ((r === 1 || r === 2) && !started) {
          started = true;
          const s = sentences[index] || { source: '', sep: '' };
          post({ type: 'sentence', id: job.id, index, count: Math.max(count, index + 1), source: s.source, sep: s.sep, from, to });
        }
        if (text) {
          out += text;
          postToken({ type: 'token', id: job.id, sentence: started ? index : Math.max(0, index - 1), token: -1, text, index: nTokens });
        }
        if (r === 2) {
          const tokens = cIds(t, 0);
          const sourceTokens = cIds(t, 1);
          nTokens += tokens.length;
          const res = {
            index,
            count: Math.max(count, index + 1),
            source: cText(rt.fn('atn_translate_source'), t),
            text: cText(rt.fn('atn_translate_output'), t),
            tokens,
            sourceTokens,
            logprob: rt.fn('atn_translate_logprob')(t),
            aborted: false,
            from,
            to,
          };
          results.push(res);
          const extra = {};
          if (opts.attention) {
            const att = attentionOf(t, sourceTokens.length);
            if (att) {
              extra.attention = att;
              extra.sourcePieces = sourceTokens.map((i) => m.piece(i));
              extra.targetPieces = tokens.slice(0, att.nTgt).map((i) => m.piece(i));
            }
          }
          post({ type: 'sentence-done', id: job.id, ...res, ...extra }, extra.attention ? [extra.attention.data.buffer] : []);
          index++;
          started = false;
        }
        if (r === 0) break;
        flushTokensIfDue();
        await yieldNow();
      }
    } finally {
      rt.fn('atn_translator_free')(t);
    }
  }
  const ms = now() - t0;
  post({
    type: 'done', id: job.id, reason, text: out, tokens: [], sentences: results, from: dir.from, to: dir.to,
    ...(runs.some((r) => r.to !== dir.to) ? { mixed: true } : {}),
    stats: { sentences: results.length, genTokens: nTokens, decodeMs: ms, tokensPerSecond: ms > 0 ? (nTokens / ms) * 1000 : 0 },
  });
}
