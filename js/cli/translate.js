// atento translate: translate text with a marian (encoder-decoder) model.
//   atento translate [--model M.gguf | --to es|en] [--beam N] [--json] [TEXT]
// TEXT, or stdin when no TEXT is given. The text is split into sentences and
// translated paragraph by paragraph (line breaks kept); greedy output
// (--beam 1) is printed token by token as it is produced.
import { UsageError, loadModelFile, pretokenizerFlag, out } from './_common.js';
import { parseFlagValue, checkTo, checkText, languageName } from '../options.js';
import { detectLanguage, textIsIn, modelTargets, chooseDirection } from '../direction.js';
import { shippedModel } from '../models.js';

export const summary = 'translate text (English <-> Spanish by default) with a marian model';

export const flags = {
  model: { type: 'path', value: 'M.gguf', help: 'a marian model (default: the shipped models/translate-en-es.gguf)' },
  to: { type: 'string', value: 'LANG', help: 'the target language, one of the model\'s (default: detect the language of the text and translate into the other)' },
  beam: { type: 'int', min: 1, max: 8, default: 1, value: 'N', help: 'beam size; 1 = greedy, streamed' },
  'no-repeat-ngram': { type: 'int', option: 'noRepeatNgram', value: 'N', help: 'repeat guard: no n-gram of N target tokens twice (0: off; default: the library\'s)' },
  'no-repeat-span': { type: 'int', option: 'noRepeatSpan', value: 'N', help: 'repeat guard: no span of up to N tokens right after a copy of itself, "library library" (0: off; default: the library\'s)' },
  json: { type: 'bool', help: 'print {"translations":[{"source","text","tokens"}],"timings":{...}}' },
  attention: { type: 'bool', help: 'with --json: add each sentence\'s cross-attention (mean over layers and heads)' },
  text: { type: 'string', value: 'TEXT', help: 'the text (also the first plain argument; stdin when absent)' },
  ...pretokenizerFlag,
};

export const examples = [
  'atento translate "The cat sleeps on the sofa."',
  'atento translate --to en "El gato duerme en el sofá."',
  'atento translate --model opus-mt-en-es.q8_0.gguf --beam 4 < page.txt',
  'echo "Hello. How are you?" | atento translate --json',
];

/** The shipped translation model: models/ in a checkout, else the atento-models-en-es package. */
export function findDefaultModel() {
  return shippedModel('translate');
}

/** Flags plus one positional TEXT. */
export function parseArgs(argv) {
  const o = { beam: 1, json: false, attention: false };
  const pos = [];
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let val = null;
    if (a === '--') { pos.push(...argv.slice(i + 1)); break; }
    if (!a.startsWith('--') || a.length === 2) { pos.push(a); continue; }
    const eq = a.indexOf('=');
    if (eq > 0) { val = a.slice(eq + 1); a = a.slice(0, eq); }
    const name = a.slice(2);
    const spec = flags[name];
    if (!spec) throw new UsageError(`unknown flag --${name} for 'translate' (see atento translate --help)`);
    if (spec.type === 'bool') {
      if (val !== null && val !== 'true' && val !== 'false') throw new UsageError(`--${name} takes no value`);
      o[name] = val !== 'false';
      continue;
    }
    if (val === null) {
      if (i + 1 >= argv.length) throw new UsageError(`--${name} needs a value`);
      val = argv[++i];
    }
    if (spec.type === 'int') o[spec.option ?? name] = parseFlagValue(spec.option ?? name, val, (m) => new UsageError(m));
    else o[name] = val;
  }
  if (pos.length > 1) throw new UsageError(`give the text as one argument (quote it), got ${pos.length}`);
  if (pos.length === 1) {
    if (o.text !== undefined) throw new UsageError('give the text either as an argument or with --text, not both');
    o.text = pos[0];
  }
  return o;
}

async function readStdin() {
  if (process.stdin.isTTY) throw new UsageError('no text: give TEXT or pipe it in (see atento translate --help)');
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw Object.assign(new Error('the text on stdin is not valid UTF-8'), { code: 'E_INPUT' });
  }
}

/**
 * The repeat guard of translator t (atento.h atn_translator_set_repeat_guard);
 * an option left out keeps the library's default.
 */
export function setRepeatGuard(rt, t, noRepeatNgram, noRepeatSpan) {
  if (rt.fn('atn_translator_set_repeat_guard')(t, noRepeatNgram ?? -1, noRepeatSpan ?? -1) < 0) rt.fail('E_ARG', 'the repeat guard');
}

/** The translator over the WASM exports (atento.h, translate section). */
export function* translateStream(rt, model, text, { beam = 1, to = null, attention = false, noRepeatNgram, noRepeatSpan } = {}) {
  const ptr = model._p();
  const [lp] = to ? rt.putString(to) : [0];
  const t = rt.fn('atn_translator_new')(ptr, beam, lp, attention ? 1 : 0) >>> 0;
  if (lp) rt.free(lp);
  if (!t) rt.fail('E_TRANSLATE', 'creating the translator');
  const lenp = rt.malloc(8);
  const dec = new TextDecoder();
  const str = (f) => {
    const p = f(t, lenp) >>> 0;
    const n = rt.view().getUint32(lenp, true);
    return dec.decode(rt.u8.subarray(p, p + n));
  };
  const ids = (which) => {
    const n = rt.fn('atn_translate_tokens')(t, which, 0, 0);
    if (n <= 0) return [];
    const p = rt.malloc(4 * n);
    rt.fn('atn_translate_tokens')(t, which, p, n);
    const a = Array.from(new Int32Array(rt.memory.buffer, p, n));
    rt.free(p);
    return a;
  };
  try {
    if (noRepeatNgram !== undefined || noRepeatSpan !== undefined) setRepeatGuard(rt, t, noRepeatNgram, noRepeatSpan);
    const [tp, tn] = rt.putString(text);
    const rc = rt.fn('atn_translate_begin')(t, tp, tn);
    rt.free(tp);
    if (rc < 0) rt.fail('E_TRANSLATE', 'starting the translation');
    for (;;) {
      const r = rt.fn('atn_translate_next')(t);
      if (r < 0) rt.fail('E_TRANSLATE', 'translating');
      const piece = str(rt.fn('atn_translate_piece'));
      if (r === 2) {
        const s = {
          source: str(rt.fn('atn_translate_source')),
          text: str(rt.fn('atn_translate_output')),
          tokens: ids(0),
          sourceTokens: ids(1),
          logprob: rt.fn('atn_translate_logprob')(t),
        };
        if (attention) {
          const n = rt.fn('atn_translate_attention')(t, -1, -1, 0, 0);
          const p = rt.malloc(4 * Math.max(1, n));
          rt.fn('atn_translate_attention')(t, -1, -1, p, n);
          const flat = Array.from(new Float32Array(rt.memory.buffer, p, n), (v) => Math.round(v * 1e4) / 1e4);
          rt.free(p);
          const ns = s.sourceTokens.length;
          s.attention = [];
          for (let i = 0; i < s.tokens.length; i++) s.attention.push(flat.slice(i * ns, (i + 1) * ns));
        }
        yield { piece, sentence: s };
      } else yield { piece, sentence: null };
      if (r === 0) break;
    }
  } finally {
    rt.free(lenp);
    rt.fn('atn_translator_free')(t);
  }
}

export async function run(o) {
  let text = o.text;
  if (text === undefined) text = await readStdin();
  try {
    checkText('the text', text);
  } catch (e) {
    throw new UsageError(`${o.text === undefined ? 'stdin' : 'the text'} is empty: nothing to translate`);
  }
  const modelPath = o.model || findDefaultModel();
  const t0 = performance.now();
  const { rt, model, loadMs } = await loadModelFile(modelPath, { allowUnknownPretokenizer: o['allow-unknown-pretokenizer'] });
  try {
    // A wrong model file is bad input, not bad usage: exit 1, as the native CLI.
    if (model.arch !== 'marian') throw Object.assign(new Error(`${modelPath} is a '${model.arch}' model; translate needs a marian model`), { code: 'E_INPUT' });
    const targets = modelTargets(model);
    try {
      checkTo(o.to, targets, '--to');
    } catch (e) {
      throw new UsageError(e.message);
    }
    const detected = detectLanguage(rt, text);
    const dir = chooseDirection(detected, o.to, targets, '--to', !!o.to && textIsIn(rt, text, o.to));
    if (dir.sameLanguage) {
      // Said, not silently translated again: the text goes through unchanged.
      process.stderr.write(`atento: the text is already in ${languageName(dir.to)} (--to ${dir.to}); it is printed unchanged\n`);
      if (o.json) {
        await out(JSON.stringify({ translations: [], from: dir.from, to: dir.to, note: dir.note, text }) + '\n');
      } else await out(text.endsWith('\n') ? text : text + '\n');
      return 0;
    }
    const to = dir.to || null;
    const t1 = performance.now();
    const translations = [];
    let nTok = 0;
    for (const { piece, sentence } of translateStream(rt, model, text, { beam: o.beam, to, attention: o.attention, noRepeatNgram: o.noRepeatNgram, noRepeatSpan: o.noRepeatSpan })) {
      if (!o.json && piece) await out(piece);
      if (sentence) {
        nTok += sentence.tokens.length;
        translations.push(sentence);
      }
    }
    const ms = performance.now() - t1;
    if (o.json) {
      const timings = {
        load_ms: +loadMs.toFixed(1), translate_ms: +ms.toFixed(1), total_ms: +(performance.now() - t0).toFixed(1),
        sentences: translations.length, target_tokens: nTok,
        sentences_per_s: +(translations.length / (ms / 1000)).toFixed(2), tokens_per_s: +(nTok / (ms / 1000)).toFixed(1),
      };
      await out(JSON.stringify({ translations, from: dir.from, to: dir.to, timings }) + '\n');
    } else if (text.length && !text.endsWith('\n')) await out('\n');
  } finally {
    model.free();
  }
  return 0;
}

/** The encoder's ids for one sentence: [>>to<<] + source spm + [</s>] (atn_translate_source_ids). */
export function sourceIds(rt, model, text, to = null) {
  const [lp] = to ? rt.putString(to) : [0];
  const [tp, tn] = rt.putString(text);
  try {
    const f = rt.fn('atn_translate_source_ids');
    const n = f(model._p(), lp, tp, tn, 0, 0);
    if (n < 0) rt.fail('E_TOKENIZE', 'tokenizing the source');
    const p = rt.malloc(4 * Math.max(1, n));
    f(model._p(), lp, tp, tn, p, n);
    const ids = Array.from(new Int32Array(rt.memory.buffer, p, n));
    rt.free(p);
    return ids;
  } finally {
    rt.free(tp);
    if (lp) rt.free(lp);
  }
}

/**
 * `atento score` for marian models: log p(target | source), token by token.
 * The target is segmented with the target vocabulary, ends with </s>, and
 * the decoder starts from decoder_start_token_id. Returns
 * {sourceTokens, tokens, logprobs, logprob, perplexity}.
 */
export function scoreMarian(rt, model, { source, target, to = null }) {
  const src = sourceIds(rt, model, source, to);
  const start = model.info().hparams.decoder_start_token_id;
  const tgt = [...model.tokenize(target, { addSpecial: false }), model.eos];
  const s = model.newSession(Math.max(src.length, tgt.length + 1));
  try {
    s.setSource(src);
    const logprobs = Array.from(s.score([start, ...tgt]));
    const logprob = logprobs.reduce((a, b) => a + b, 0);
    return { sourceTokens: src, tokens: tgt, logprobs, logprob, perplexity: Math.exp(-logprob / logprobs.length) };
  } finally {
    s.free();
  }
}
