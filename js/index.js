// index.js — the high-level API of the atento npm package.
//
//   import { load } from 'atento';
//   const m = await load('models/en-es.gguf', { onProgress: (p) => console.log(p.percent) });
//   for await (const piece of m.translate('Hello, world.')) process.stdout.write(piece.text);
//   const chat = await load(url);
//   for await (const piece of chat.chat([{ role: 'user', content: 'Hi!' }])) ...
//   m.dispose();
//
// Each loaded model lives in its own worker (a module Web Worker in a
// browser, a worker_threads Worker in Node ≥ 20) running js/worker.js, so the
// calling thread never blocks. The message protocol between the two is in
// docs/worker-protocol.md. Every failure is an AtentoError (an Error) with a
// `code` and a one-line message.
import { AtentoError, checkSimd } from './core.js';
import { checkGenerate, checkChat, checkTranslate, checkText } from './options.js';

export { AtentoError };
export { RULES, ruleText } from './options.js';

const isNode = typeof process !== 'undefined' && !!(process.versions && process.versions.node) && typeof window === 'undefined';
const workerUrl = new URL('./worker.js', import.meta.url);

// ---- the worker, in a browser or in Node -------------------------------------------

async function spawnWorker(started = null) {
  if (!isNode && typeof Worker === 'function') {
    let w = started;
    if (!w && globalThis.navigator?.serviceWorker?.controller) {
      // A page under a service worker: start the worker from a blob: URL
      // that imports js/worker.js. A blob worker is controlled by the page's
      // service worker, so its imports (js/core.js) and fetches come from
      // the cache when offline; a worker started from its own URL outside the
      // service worker's scope would not be.
      try {
        const blob = new Blob([`import ${JSON.stringify(workerUrl.href)};\n`], { type: 'text/javascript' });
        const blobUrl = URL.createObjectURL(blob);
        w = new Worker(blobUrl, { type: 'module', name: 'atento' });
        setTimeout(() => URL.revokeObjectURL(blobUrl), 60000);
      } catch {
        w = null; // e.g. a Content-Security-Policy without blob: workers
      }
    }
    w ??= new Worker(workerUrl, { type: 'module', name: 'atento' });
    return {
      post: (m, t) => w.postMessage(m, t || []),
      on(onMsg, onErr) {
        w.onmessage = (e) => onMsg(e.data);
        w.onerror = (e) => { e.preventDefault?.(); onErr(new AtentoError('E_WORKER', `the atento worker failed: ${e.message || 'cannot start js/worker.js'}`)); };
        w.onmessageerror = () => onErr(new AtentoError('E_WORKER', 'a message from the atento worker could not be read'));
      },
      terminate: () => w.terminate(),
      ref() {}, unref() {},
    };
  }
  if (isNode) {
    const { Worker: NodeWorker } = await import('node:worker_threads');
    // The worker inherits the process's flags; drop those that only make
    // sense for the main script (node --input-type=module -e ...).
    const execArgv = process.execArgv.filter((a) => !/^--input-type(=|$)/.test(a));
    const w = new NodeWorker(workerUrl, { execArgv });
    return {
      post: (m, t) => w.postMessage(m, t || []),
      on(onMsg, onErr) {
        w.on('message', onMsg);
        w.on('error', (e) => onErr(new AtentoError('E_WORKER', `the atento worker failed: ${e.message}`)));
        w.on('exit', (code) => onErr(new AtentoError('E_WORKER', `the atento worker exited (code ${code})`), true));
      },
      terminate: () => w.terminate(),
      ref: () => w.ref(),
      unref: () => w.unref(),
    };
  }
  throw new AtentoError('E_UNSUPPORTED', 'atento needs Web Workers (browser) or worker_threads (Node >= 20)');
}

// ---- streams -------------------------------------------------------------------

/**
 * The result of generate / chat / translate: an async iterable of pieces
 * ({text, token, index, top?, sentence?}) that is also a promise of the
 * final result ({text, reason, tokens, stats, ...}).
 */
export class Stream {
  constructor(model, id, hooks = {}) {
    this._model = model;
    this.id = id;
    this._queue = [];
    this._wake = null;
    this._finished = false;
    this._error = null;
    this._hooks = hooks;
    this.result = new Promise((res, rej) => { this._resolve = res; this._reject = rej; });
    this.result.catch(() => {}); // a stream nobody awaits must not crash Node
  }

  _push(piece) {
    if (this._stopped) return;
    this._queue.push(piece);
    this._hooks.onToken?.(piece);
    this._notify();
  }

  _event(msg) {
    if (msg.type === 'sentence') this._hooks.onSentence?.(msg);
    else if (msg.type === 'sentence-done') this._hooks.onSentenceDone?.(msg);
  }

  _finish(result) {
    if (this._finished) return;
    this._finished = true;
    this._resolve(result);
    this._notify();
  }

  _fail(err) {
    if (this._finished) return;
    this._finished = true;
    this._error = err;
    this._reject(err);
    this._notify();
  }

  _notify() {
    const w = this._wake;
    this._wake = null;
    w?.();
  }

  /**
   * Stop this generation at once: the iteration ends now (pieces already
   * made but not yet read are dropped), and the result, once the worker has
   * stopped, has reason 'abort' and the text made until then.
   */
  abort() {
    if (this._finished || this._stopped) return;
    this._stopped = true;
    this._queue.length = 0;
    this._model._abort(this.id);
    this._notify();
  }

  async *[Symbol.asyncIterator]() {
    try {
      for (;;) {
        if (this._queue.length) { yield this._queue.shift(); continue; }
        if (this._stopped && !this._error) return;
        if (this._finished) {
          if (this._error) throw this._error;
          return;
        }
        await new Promise((r) => { this._wake = r; });
      }
    } finally {
      // Leaving the loop early (break, throw) stops the generation.
      if (!this._finished) this.abort();
    }
  }

  then(onFulfilled, onRejected) { return this.result.then(onFulfilled, onRejected); }
  catch(onRejected) { return this.result.catch(onRejected); }
  finally(f) { return this.result.finally(f); }
}

// ---- the model -------------------------------------------------------------------

let nextId = 1;

export class Model {
  /** @internal use load() */
  constructor(worker, info) {
    this._worker = worker;
    this._pending = new Map(); // id -> {stream?, resolve?, reject?, onProgress?}
    this._dead = null;
    this._abortFlag = null;
    /** {name, arch, kind: 'chat'|'translate', nVocab, nCtxTrain, fileSize, chatTemplate, memoryBytes, loadMs, info} */
    this.info = info;
  }

  get arch() { return this.info?.arch; }
  get kind() { return this.info?.kind; }

  _onMessage(msg) {
    const p = this._pending.get(msg.id);
    if (!p) return;
    switch (msg.type) {
      case 'progress': p.onProgress?.(msg); break;
      case 'token': p.stream?._push(tokenEvent(msg)); break;
      case 'tokens': for (const m of msg.items) p.stream?._push(tokenEvent(m)); break;
      case 'sentence': case 'sentence-done': p.stream?._event(msg); break;
      case 'loaded': this._pending.delete(msg.id); this._release(); p.resolve(msg.info); break;
      case 'disposed': this._pending.delete(msg.id); this._release(); p.resolve(); break;
      case 'done': {
        this._pending.delete(msg.id);
        this._release();
        const { type, id, ...result } = msg;
        if (p.stream) p.stream._finish(result);
        else p.resolve(result);
        break;
      }
      case 'error': {
        this._pending.delete(msg.id);
        this._release();
        const err = new AtentoError(msg.code || 'E_INTERNAL', msg.message || 'unknown error in the atento worker');
        if (p.stream) p.stream._fail(err);
        else p.reject(err);
        break;
      }
    }
  }

  _onWorkerError(err, exited = false) {
    if (this._dead) return;
    if (exited && this._disposing) return;
    this._dead = err;
    for (const [, p] of this._pending) {
      if (p.stream) p.stream._fail(err);
      else p.reject(err);
    }
    this._pending.clear();
    if (!exited) this._worker.terminate();
  }

  _send(msg, entry, transfer) {
    if (this._dead) throw this._dead;
    if (this._disposing) throw new AtentoError('E_DISPOSED', 'the model was disposed');
    this._pending.set(msg.id, entry);
    this._worker.ref();
    this._worker.post(msg, transfer);
  }

  // Let Node exit while nothing is pending.
  _release() { if (this._pending.size === 0) this._worker.unref(); }

  _request(msg, extra = {}, transfer = undefined) {
    return new Promise((resolve, reject) => {
      try {
        this._send(msg, { resolve, reject, ...extra }, transfer);
      } catch (e) {
        reject(e);
      }
    });
  }

  _stream(msg, opts = {}, check = null) {
    const id = msg.id;
    const stream = new Stream(this, id, { onToken: opts.onToken, onSentence: opts.onSentence, onSentenceDone: opts.onSentenceDone });
    // Bad options fail the stream at once, with the same words everywhere (js/options.js).
    try {
      check?.();
    } catch (e) {
      stream._fail(e);
      return stream;
    }
    if (opts.signal) {
      if (opts.signal.aborted) queueMicrotask(() => stream.abort());
      else opts.signal.addEventListener('abort', () => stream.abort(), { once: true });
    }
    try {
      this._send(msg, { stream });
    } catch (e) {
      stream._fail(e);
    }
    return stream;
  }

  _abort(id) {
    if (this._dead || this._disposing) return;
    if (this._abortFlag && id !== undefined) Atomics.store(this._abortFlag, 0, id);
    this._worker.post({ type: 'abort', id });
  }

  /**
   * Generate text after a raw prompt (no chat template).
   * @param {string|number[]} prompt  text, or token ids taken as they are
   * @param {GenerateOptions} [opts]
   * @returns {Stream}
   */
  generate(prompt, opts = {}) {
    const { signal, onToken, ...o } = opts;
    return this._stream({ type: 'generate', id: nextId++, prompt, opts: o }, { signal, onToken }, () => checkGenerate(prompt, o));
  }

  /**
   * Answer a conversation ([{role: 'system'|'user'|'assistant', content}])
   * with the model's chat template. The KV cache is kept between calls, so
   * a follow-up only evaluates its new tokens; when the context is full the
   * oldest turns are dropped (the result says how many: droppedMessages).
   * Built-in tools (docs/chat.md): a model that declares GGUF atento.tools
   * (info.tools), asked without `tools`, calls translate and lookup, run in
   * its worker; the result carries `toolRuns` ([{name, arguments, result}])
   * and `messages`. `tools: false` turns them off; `toolSources:
   * {translate, dictionary}` (paths, URLs, Blobs or bytes) say where the
   * translation model and the dictionary come from (default: the shipped
   * files, models/ or the atento-models-en-es package; in a browser
   * ../models/ next to js/).
   */
  chat(messages, opts = {}) {
    const { signal, onToken, runTool, maxToolRounds, ...o } = opts;
    if (runTool) {
      try {
        checkChat(messages, o);
      } catch (e) {
        const failed = new Stream(this, nextId++);
        failed._fail(e);
        return failed;
      }
      return this._chatWithTools(messages, o, { signal, onToken, runTool, maxToolRounds });
    }
    let sourcesError = null;
    if (o.toolSources !== undefined) {
      try {
        o.toolSources = toolSourcesMessage(o.toolSources);
      } catch (e) {
        sourcesError = e;
      }
    }
    return this._stream({ type: 'chat', id: nextId++, messages, opts: o }, { signal, onToken }, () => {
      if (sourcesError) throw sourcesError;
      checkChat(messages, o);
    });
  }

  // Tools (docs/chat.md): with opts.tools the template shows the model the
  // tools and the result carries the reply's toolCalls; with runTool(call)
  // too, each call is run, the reply and the results ({role: 'tool'}) are
  // appended, and the model continues, up to maxToolRounds (4) times. The
  // pieces of every round stream through the one Stream; its result is the
  // last reply's, plus `messages` (the conversation with the tool turns) and
  // `toolRuns` ([{name, arguments, result}]).
  _chatWithTools(messages, o, { signal, onToken, runTool, maxToolRounds = 4 }) {
    const outer = new Stream(this, nextId++, { onToken });
    let inner = null;
    const stop = outer.abort.bind(outer);
    outer.abort = () => { inner?.abort(); stop(); };
    if (signal) {
      if (signal.aborted) queueMicrotask(() => outer.abort());
      else signal.addEventListener('abort', () => outer.abort(), { once: true });
    }
    (async () => {
      const msgs = messages.map((m) => ({ role: m.role, content: m.content }));
      const toolRuns = [];
      for (let round = 0; ; round++) {
        inner = this._stream({ type: 'chat', id: nextId++, messages: msgs, opts: o }, { onToken: (p) => outer._push({ ...p, round }) });
        const r = await inner;
        if (outer._stopped || r.reason === 'abort' || !r.toolCalls?.length || round >= maxToolRounds) {
          outer._finish({ ...r, messages: msgs, toolRuns });
          return;
        }
        msgs.push({ role: 'assistant', content: r.text });
        for (const call of r.toolCalls) {
          let result;
          try {
            result = await runTool(call);
          } catch (e) {
            result = `error: ${e?.message ?? e}`;
          }
          const content = typeof result === 'string' ? result : JSON.stringify(result);
          toolRuns.push({ name: call.name, arguments: call.arguments, result: content });
          msgs.push({ role: 'tool', content });
        }
      }
    })().catch((e) => outer._fail(e));
    return outer;
  }

  /** Forget the chat's KV cache (a new conversation). */
  resetChat() {
    return this._request({ type: 'reset', id: nextId++ });
  }

  /**
   * Translate text (a sentence or a whole page: it is split into sentences,
   * line breaks kept). Pieces carry `sentence`, the index of the sentence.
   * `to` is the target language and must be one of the model's
   * (info.targets); without it the language of the text is detected and a
   * two-language model translates into the other one. Text already in `to`
   * is given back as it is, with reason 'same-language' and a note. The
   * result says `from` (detected) and `to`.
   */
  translate(text, opts = {}) {
    const { signal, onToken, onSentence, onSentenceDone, ...o } = opts;
    return this._stream({ type: 'translate', id: nextId++, text, opts: o }, { signal, onToken, onSentence, onSentenceDone },
      () => checkTranslate(text, o, this.info?.targets ?? null));
  }

  /** The language of `text`: {language: 'en'|'es'|null, confidence} (src/langid.c). */
  detectLanguage(text) {
    try {
      checkText('the text', text);
    } catch (e) {
      return Promise.reject(e);
    }
    return this._request({ type: 'detect', id: nextId++, text }).then((r) => ({ language: r.language, confidence: r.confidence }));
  }

  /**
   * Fine-tune this translation model on sentence pairs ([{source, target}] or
   * [[source, target]]) in its worker (docs/training.md). opts: to ('es'),
   * steps, lr, seed, replay (source sentences whose own translations are
   * replayed; default none here — the CLI uses models/finetune-replay.tsv),
   * onProgress({step, steps, loss}), signal (abort between steps).
   * Resolves to {bytes (the new GGUF, a Uint8Array: load() it, save it),
   * info, losses, trainMs, memoryBytes, reason: 'done'|'abort'}.
   */
  finetune(pairs, opts = {}) {
    const { onProgress, signal, ...o } = opts;
    const id = nextId++;
    if (signal) {
      if (signal.aborted) queueMicrotask(() => this._abort(id));
      else signal.addEventListener('abort', () => this._abort(id), { once: true });
    }
    return this._request({ type: 'finetune', id, pairs, opts: o }, {
      onProgress: onProgress ? (m) => onProgress({ step: m.step, steps: m.steps, loss: m.loss }) : undefined,
    });
  }

  /** Token ids and vocabulary pieces of `text`. */
  tokenize(text, opts = {}) {
    return this._request({ type: 'tokenize', id: nextId++, text, ...opts }).then((r) => ({ tokens: r.tokens, pieces: r.pieces }));
  }

  /** Stop every generation of this model, running or queued. */
  abort() {
    for (const [, p] of this._pending) p.stream?.abort();
  }

  /** Free the model and end its worker. Later calls fail with E_DISPOSED. */
  async dispose() {
    if (this._disposing || this._dead) return;
    this.abort();
    const done = this._request({ type: 'dispose', id: nextId++ });
    this._disposing = true;
    const timeout = new Promise((r) => setTimeout(r, 2000));
    try {
      await Promise.race([done, timeout]);
    } catch { /* the worker is going anyway */ }
    const err = new AtentoError('E_DISPOSED', 'the model was disposed');
    for (const [, p] of this._pending) {
      if (p.stream) p.stream._fail(err);
      else p.reject(err);
    }
    this._pending.clear();
    this._dead = err;
    this._worker.terminate();
  }
}

/* a worker's token message as a Stream's token event */
function tokenEvent(msg) {
  return {
    text: msg.text, token: msg.token, index: msg.index,
    ...(msg.top ? { top: msg.top } : {}),
    ...(msg.sentence !== undefined ? { sentence: msg.sentence } : {}),
    ...(msg.round !== undefined ? { round: msg.round } : {}),
  };
}

// Where the built-in tools' files come from, as the worker reads them:
// strings (paths in Node, URLs) as they are, URL objects as their text,
// Blobs as {blob}, bytes as {bytes}.
function toolSourcesMessage(sources) {
  if (!sources || typeof sources !== 'object') throw new AtentoError('E_ARG', 'chat: toolSources must be an object {translate, dictionary}');
  const out = {};
  for (const k of ['translate', 'dictionary']) {
    const v = sources[k];
    if (v === undefined || v === null) continue;
    if (typeof v === 'string') out[k] = v;
    else if (v instanceof URL) out[k] = v.href;
    else if (typeof Blob !== 'undefined' && v instanceof Blob) out[k] = { blob: v };
    else if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) out[k] = { bytes: v };
    else throw new AtentoError('E_ARG', `chat: toolSources.${k} must be a path, a URL, a Blob or bytes`);
  }
  return out;
}

// ---- load ------------------------------------------------------------------------

function describeSource(source) {
  if (typeof source === 'string') return source.split(/[\\/]/).pop() || source;
  if (source instanceof URL) return source.pathname.split('/').pop() || source.href;
  if (typeof Blob !== 'undefined' && source instanceof Blob) return source.name || 'model.gguf';
  return 'model.gguf';
}

async function sourceMessage(source, opts) {
  if (typeof source === 'string' || source instanceof URL) {
    const s = String(source);
    const isUrl = /^[a-z][a-z0-9+.-]*:/i.test(s);
    if (isNode && (!isUrl || s.startsWith('file:'))) {
      const { fileURLToPath } = await import('node:url');
      const { resolve } = await import('node:path');
      return { path: isUrl ? fileURLToPath(s) : resolve(s) };
    }
    const base = globalThis.location ? globalThis.location.href : undefined;
    let url;
    try {
      url = new URL(s, base).href;
    } catch {
      throw new AtentoError('E_ARG', `load: '${s}' is not a valid URL`);
    }
    // opts.storeTo: a file of the Origin Private File System the worker copies the download to.
    return { url, cacheName: opts.cache === false ? undefined : (opts.cache || undefined), ...(opts.storeTo ? { storeTo: opts.storeTo } : {}) };
  }
  if (typeof Blob !== 'undefined' && source instanceof Blob) return { blob: source };
  // A file of the Origin Private File System: the worker reads it straight into its memory.
  if (typeof FileSystemFileHandle !== 'undefined' && source instanceof FileSystemFileHandle) return { fileHandle: source };
  // A stream of the bytes (e.g. one branch of a download the caller also
  // stores): moved to the worker, read as it arrives. opts.size: its length, if known.
  if (typeof ReadableStream !== 'undefined' && source instanceof ReadableStream) return { stream: source, size: opts.size > 0 ? opts.size : 0 };
  if (source instanceof ArrayBuffer) return { bytes: source };
  if (ArrayBuffer.isView(source)) return { bytes: source };
  throw new AtentoError('E_ARG', 'load: expected a URL, a path (Node), a File/Blob, a ReadableStream, an ArrayBuffer or a Uint8Array');
}

function wasmMessage(wasm) {
  if (wasm === undefined || wasm === null) return undefined;
  if (typeof wasm === 'string') {
    if (isNode && !/^[a-z][a-z0-9+.-]*:/i.test(wasm)) return wasm; // a path
    return new URL(wasm, globalThis.location ? globalThis.location.href : undefined).href;
  }
  if (wasm instanceof URL) return wasm.href;
  return wasm; // bytes or a WebAssembly.Module
}

/**
 * Load a GGUF model in a new worker.
 * @param {string|URL|Blob|ArrayBuffer|Uint8Array} source  a URL (fetched with
 *   progress), a file path (Node), a File/Blob, a FileSystemFileHandle (browser,
 *   the Origin Private File System), a ReadableStream, or the bytes
 * @param {LoadOptions} [opts] onProgress({phase, loaded, total, percent,
 *   bytesPerSecond}), wasm (URL/path/bytes of atento.wasm), threads, simd
 *   ('auto' or 'simd128': which build, docs/simd.md), name, cache
 *   (Cache Storage name to keep a downloaded model in), signal, worker (browser:
 *   a Worker already running js/worker.js, started early and not used yet)
 * @returns {Promise<Model>}
 */
export async function load(source, opts = {}) {
  checkSimd(opts.simd);
  const src = await sourceMessage(source, opts);
  // The worker starts (its scripts load) while the caller's module compiles:
  // opts.wasm / opts.threadedWasm may be promises (of a WebAssembly.Module).
  const worker = await spawnWorker(opts.worker || null);
  let wasm, threadedWasm;
  try {
    [wasm, threadedWasm] = await Promise.all([opts.wasm, opts.threadedWasm]);
  } catch (e) {
    worker.terminate();
    throw e instanceof AtentoError ? e : new AtentoError('E_WASM', `cannot compile atento.wasm: ${e?.message ?? e}`);
  }
  const model = new Model(worker, null);
  worker.on((m) => model._onMessage(m), (e, exited) => model._onWorkerError(e, exited));
  if (typeof SharedArrayBuffer === 'function' && (isNode || globalThis.crossOriginIsolated)) {
    try {
      const sab = new SharedArrayBuffer(4);
      model._abortFlag = new Int32Array(sab);
      worker.post({ type: 'init', abortFlag: sab });
    } catch { model._abortFlag = null; }
  }
  const id = nextId++;
  const onProgress = opts.onProgress
    ? (p) => opts.onProgress({
      phase: p.phase, loaded: p.loaded, total: p.total,
      percent: p.total > 0 ? Math.min(100, (100 * p.loaded) / p.total) : null,
      bytesPerSecond: p.bytesPerSecond,
    })
    : undefined;
  const name = opts.name || describeSource(source);
  if (opts.signal) {
    if (opts.signal.aborted) { worker.terminate(); throw new AtentoError('E_ABORTED', 'loading was cancelled'); }
    opts.signal.addEventListener('abort', () => model._abort(id), { once: true });
  }
  try {
    model.info = await model._request({ type: 'load', id, source: src, name, wasm: wasmMessage(wasm), threads: opts.threads, threadedWasm: wasmMessage(threadedWasm), simd: opts.simd }, { onProgress }, src.stream ? [src.stream] : undefined);
  } catch (e) {
    model._disposing = true;
    worker.terminate();
    throw e;
  }
  return model;
}

/** Format a byte count for people: 1.5 MB, 812 kB. */
export function formatBytes(n) {
  if (!Number.isFinite(n)) return '?';
  if (n < 1000) return `${n} B`;
  const u = ['kB', 'MB', 'GB', 'TB'];
  let i = -1;
  do { n /= 1000; i++; } while (n >= 1000 && i < u.length - 1);
  return `${n.toFixed(n < 10 ? 1 : 0)} ${u[i]}`;
}
