// direction.js — which way to translate: the language of the text (the C
// detector, atn_detect_language in src/langid.c) and the model's target
// languages decide it, with the same rules in the worker (the API and the
// page) and the JS CLI; src/cli/translate.c follows them too.
//
//   `to` given   translate into `to`; text already in `to` is not translated
//                (sameLanguage: the caller says so; textIsIn decides,
//                and one or two words are always translated)
//   `to` absent  a two-language model translates into the language the text
//                is not in; other models need `to` (or have no tags at all)
import { AtentoError } from './core.js';
import { targetsOf, otherLanguage, languageName } from './options.js';


/** {language: 'en'|'es'|null, confidence} of a text, from the wasm runtime. */
export function detectLanguage(rt, text) {
  const [tp, tn] = rt.putString(text);
  const cp = rt.malloc(4);
  try {
    const p = rt.fn('atn_detect_language')(tp, tn, cp) >>> 0;
    return { language: p ? rt.cstring(p) : null, confidence: rt.view().getFloat32(cp, true) };
  } finally {
    rt.free(cp);
    rt.free(tp);
  }
}

/**
 * Whether the text is surely in `lang` already (the C rule,
 * atn_text_is_in_language: 3+ words and a confident detector; one or two
 * words never are), so that translating it into `lang` has nothing to do.
 */
export function textIsIn(rt, text, lang) {
  const [tp, tn] = rt.putString(text);
  const [lp] = rt.putString(lang);
  try {
    return rt.fn('atn_text_is_in_language')(tp, tn, lp) === 1;
  } finally {
    rt.free(lp);
    rt.free(tp);
  }
}

/**
 * The target languages of a loaded marian model (core.js Model): the >>xx<<
 * tags of its vocabulary, [] when it has none (one direction only), or null
 * when the tags live in a separate source vocabulary this API cannot list.
 */
export function modelTargets(model) {
  let info = null;
  try { info = model.info(); } catch { /* unknown */ }
  if (info?.hparams?.separate_source_vocab) return null;
  // One call into the wasm module per token, and only the pieces shaped like
  // a tag (>>xx<<, 6 to 16 bytes) decoded: Model.piece() on every entry of a
  // 58,000-token vocabulary took 0.1 s of the page's time to the first token.
  const { rt } = model;
  const pieceOf = rt.fn('atn_token_piece');
  const cap = 32;
  const out = rt.malloc(cap);
  const pieces = [];
  try {
    for (let i = 0; i < model.nVocab; i++) {
      const n = pieceOf(model.ptr, i, out, cap);
      if (n < 0) rt.fail('E_DETOKENIZE', `token ${i}`);
      if (n < 6 || n > 16) continue;
      const u8 = rt.u8;
      if (u8[out] !== 0x3e || u8[out + 1] !== 0x3e || u8[out + n - 2] !== 0x3c || u8[out + n - 1] !== 0x3c) continue;
      pieces.push(tagDecoder.decode(u8.slice(out, out + n)));
    }
  } finally {
    rt.free(out);
  }
  return targetsOf(pieces);
}

const tagDecoder = new TextDecoder('utf-8');

/**
 * Decide the direction. detected: detectLanguage's result; to: the caller's
 * target or undefined; targets: modelTargets; alreadyInTo: textIsIn(text, to).
 * Returns {from, to, sameLanguage, note?}; `to` is '' for a model without
 * tags. Throws E_ARG when the direction cannot be decided.
 */
export function chooseDirection({ language }, to, targets, label = 'to', alreadyInTo = false) {
  const from = language;
  if (to) {
    const same = !!from && from === to && alreadyInTo;
    return { from, to, sameLanguage: same, ...(same ? { note: `the text is already in ${languageName(to)}` } : {}) };
  }
  if (!targets || targets.length === 0) return { from, to: '', sameLanguage: false };
  const other = otherLanguage(from, targets);
  if (other) return { from, to: other, sameLanguage: false };
  if (!from) throw new AtentoError('E_ARG', `cannot tell which language the text is in; give ${label} (one of ${targets.join(', ')})`);
  throw new AtentoError('E_ARG', `the text looks ${languageName(from)}; give ${label} (one of ${targets.join(', ')})`);
}
