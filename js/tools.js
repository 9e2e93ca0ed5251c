// tools.js — the built-in tools (docs/chat.md, "Built-in tools"): a chat
// model that declares GGUF `atento.tools` may call `translate` (the
// translation model, greedy) and `lookup` (the dictionary,
// src/dictionary.c), run here on the same runtime as the chat model. The
// worker (js/worker.js: the Node API and the page) and the JS CLI
// (js/cli/chat.js) use this; the native CLI (src/cli/chat.c) gives the same
// result strings.
//
//   const tools = new BuiltinTools(rt, { translate: {path}, dictionary: {url} });
//   const result = await tools.run({ name: 'lookup', arguments: { word: 'gato', from: 'es' } });
//
// A source is {path} (Node), {url}, {bytes} or {blob}; both are loaded on
// first use and kept. Every failure — unknown tool, bad arguments, a missing
// or damaged file — is a result string starting with "error: ", never a
// throw, so the conversation goes on.
import { AtentoError } from './core.js';

/** Tool rounds per answer: calls, results, and the model continues, at most this often. */
export const MAX_TOOL_ROUNDS = 3;
/** Longest text the translate tool takes, in UTF-8 bytes. */
export const TRANSLATE_MAX_BYTES = 2000;

const utf8enc = new TextEncoder();
const LANGS = ['en', 'es'];

/** The tool definitions a chat model declares (GGUF atento.tools), or null (none, or not a JSON array). */
export function declaredTools(model) {
  const s = model.toolsJson();
  if (s === null) return null;
  try {
    const t = JSON.parse(s);
    return Array.isArray(t) && t.length > 0 ? t : null;
  } catch {
    return null;
  }
}

/** The error result for a call's arguments, or null when they are right. */
export function argumentsError(call) {
  const a = call.arguments && typeof call.arguments === 'object' && !Array.isArray(call.arguments) ? call.arguments : null;
  if (call.name === 'translate') {
    if (!a || typeof a.text !== 'string' || !a.text.trim() || !LANGS.includes(a.to)) return 'error: translate needs "text" (a string) and "to" ("en" or "es")';
    if (utf8enc.encode(a.text).length > TRANSLATE_MAX_BYTES) return `error: translate: the text is longer than ${TRANSLATE_MAX_BYTES} bytes`;
    return null;
  }
  if (call.name === 'lookup') {
    if (!a || typeof a.word !== 'string' || !LANGS.includes(a.from)) return 'error: lookup needs "word" (a string) and "from" ("en" or "es")';
    return null;
  }
  return `error: unknown tool '${call.name}'; the tools are translate and lookup`;
}

async function readSource(src, what) {
  try {
    if (src.bytes) {
      const b = src.bytes;
      return b instanceof Uint8Array ? b : ArrayBuffer.isView(b) ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : new Uint8Array(b);
    }
    if (src.blob) return new Uint8Array(await src.blob.arrayBuffer());
    if (src.path) {
      const { readFile } = await import('node:fs/promises');
      return new Uint8Array(await readFile(src.path));
    }
    if (src.url) {
      const res = await fetch(src.url);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      return new Uint8Array(await res.arrayBuffer());
    }
  } catch (e) {
    const why = { ENOENT: 'no such file', EACCES: 'permission denied', EISDIR: 'is a directory' }[e.code] || e.message;
    throw new AtentoError('E_LOAD', `cannot read ${what} ${src.path || src.url || ''}: ${why}`.replace('  ', ' '));
  }
  throw new AtentoError('E_LOAD', `no ${what} was given`);
}

export class BuiltinTools {
  /**
   * @param rt  the core.js runtime the chat model runs on
   * @param sources  {translate, dictionary}: where each comes from (a source, or a
   *   function giving one, called on first use)
   */
  constructor(rt, sources = {}) {
    this.rt = rt;
    this.sources = sources;
    this._dict = null;
    this._mt = null;
  }

  async _source(kind) {
    const s = typeof this.sources[kind] === 'function' ? await this.sources[kind]() : this.sources[kind];
    if (!s) throw new AtentoError('E_LOAD', `no ${kind === 'translate' ? 'translation model' : 'dictionary'} was given`);
    return s;
  }

  async dictionary() {
    if (!this._dict) this._dict = this.rt.loadDictionary(await readSource(await this._source('dictionary'), 'the dictionary'));
    return this._dict;
  }

  async translationModel() {
    if (!this._mt) {
      const m = this.rt.loadModel(await readSource(await this._source('translate'), 'the translation model'));
      if (m.arch !== 'marian') {
        m.free();
        throw new AtentoError('E_KIND', `the translation model is a '${m.arch}' model, not a translation (marian) model`);
      }
      this._mt = m;
    }
    return this._mt;
  }

  /** Greedy translation of `text` into `to`, as one line. */
  async translate(text, to) {
    const m = await this.translationModel();
    const rt = this.rt;
    const [lp] = rt.putString(to);
    let t;
    try {
      t = rt.fn('atn_translator_new')(m.ptr, 1, lp, 0) >>> 0;
    } finally {
      rt.free(lp);
    }
    if (!t) rt.fail('E_TRANSLATE', 'starting the translation');
    const lenp = rt.malloc(4);
    let out = '';
    try {
      const [tp, tn] = rt.putString(text);
      try {
        if (rt.fn('atn_translate_begin')(t, tp, tn) < 0) rt.fail('E_TRANSLATE', 'starting the translation');
      } finally {
        rt.free(tp);
      }
      const chunks = [];
      for (;;) {
        const r = rt.fn('atn_translate_next')(t);
        if (r < 0) rt.fail('E_TRANSLATE', 'translating');
        rt.view().setUint32(lenp, 0, true);
        const p = rt.fn('atn_translate_piece')(t, lenp) >>> 0;
        const n = rt.view().getUint32(lenp, true);
        if (p && n) chunks.push(rt.u8.slice(p, p + n));
        if (r === 0) break;
      }
      const all = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
      let o = 0;
      for (const c of chunks) { all.set(c, o); o += c.length; }
      out = new TextDecoder().decode(all);
    } finally {
      rt.free(lenp);
      rt.fn('atn_translator_free')(t);
    }
    return out.replace(/\s+/g, ' ').trim();
  }

  /** The result string of one call {name, arguments}. */
  async run(call) {
    const bad = argumentsError(call);
    if (bad) return bad;
    const a = call.arguments;
    if (call.name === 'lookup') {
      let d;
      try {
        d = await this.dictionary();
      } catch (e) {
        return `error: the dictionary is not available: ${e.message}`;
      }
      try {
        return d.lookup(a.word, a.from);
      } catch (e) {
        return `error: ${e.message}`;
      }
    }
    try {
      await this.translationModel();
    } catch (e) {
      return `error: the translation model is not available: ${e.message}`;
    }
    try {
      return await this.translate(a.text, a.to);
    } catch (e) {
      return `error: ${e.message}`;
    }
  }

  free() {
    this._dict?.free();
    this._mt?.free();
    this._dict = this._mt = null;
  }
}
