// options.js — the one set of rules for the options of generate, chat and
// translate, shared by the npm API (js/index.js, and js/worker.js for direct
// protocol users), the JS command line (js/cli/) and the page (web/app.js).
// The native CLI (src/cli/) writes the same messages from the same limits
// (tests/js/options.test.mjs compares them).
//
// A message names the option the way its user wrote it: `beam` in the API,
// `--beam` on the command line, and says the rule and the value given:
//   beam must be an integer from 1 to 8, got 2.5
//   --beam must be an integer from 1 to 8, got '99'
import { AtentoError, KV_TYPES, kvTypeCode } from './core.js';

export { KV_TYPES };

/**
 * The limits. int: whole numbers only. min/max inclusive; gt: exclusive
 * lower bound. flag: the command-line spelling.
 */
export const RULES = {
  beam: { int: true, min: 1, max: 8, flag: 'beam' },
  maxTokens: { int: true, min: 1, max: 1048576, flag: 'max-tokens' },
  temperature: { min: 0, max: 100, flag: 'temperature' },
  topK: { int: true, min: 0, max: 1048576, flag: 'top-k' },
  topP: { min: 0, max: 1, flag: 'top-p' },
  minP: { min: 0, max: 1, flag: 'min-p' },
  repeatPenalty: { gt: 0, max: 100, flag: 'repeat-penalty' },
  repeatLastN: { int: true, min: 0, max: 4096, flag: 'repeat-last-n' },
  seed: { int: true, min: 0, max: Number.MAX_SAFE_INTEGER, flag: 'seed' },
  topN: { int: true, min: 0, max: 20, flag: 'top-n' },
  nCtx: { int: true, min: 0, max: 1048576, flag: 'ctx' },
  noRepeatNgram: { int: true, min: 0, max: 16, flag: 'no-repeat-ngram' },
  noRepeatSpan: { int: true, min: 0, max: 16, flag: 'no-repeat-span' },
};

/** "an integer from 1 to 8", "a number > 0": what a rule allows, in words. */
export function ruleText(rule) {
  const kind = rule.int ? 'an integer' : 'a number';
  if (rule.gt !== undefined) return rule.max !== undefined ? `${kind} > ${rule.gt} and <= ${rule.max}` : `${kind} > ${rule.gt}`;
  if (rule.min !== undefined && rule.max !== undefined) return `${kind} from ${rule.min} to ${rule.max}`;
  if (rule.min !== undefined) return `${kind} >= ${rule.min}`;
  if (rule.max !== undefined) return `${kind} <= ${rule.max}`;
  return kind;
}

function shown(v) {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return `a ${typeof v}`;
}

function argError(message) { return new AtentoError('E_ARG', message); }

/** Does the number v follow the rule? */
export function fits(rule, v) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return false;
  if (rule.int && !Number.isSafeInteger(v)) return false;
  if (rule.gt !== undefined && !(v > rule.gt)) return false;
  if (rule.min !== undefined && v < rule.min) return false;
  if (rule.max !== undefined && v > rule.max) return false;
  return true;
}

/** Check one API option (a number); throws E_ARG "beam must be ..., got 99". */
export function checkOption(name, v, label = name) {
  const rule = RULES[name];
  if (!fits(rule, v)) throw argError(`${label} must be ${ruleText(rule)}, got ${shown(v)}`);
  return v;
}

/**
 * A command-line value (a string) for the option `name`: the number, or an
 * error "--beam must be an integer from 1 to 8, got '99'" (the same words the
 * native CLI uses). name: an option of RULES, or a rule {int, min, max, gt,
 * flag} of its own. Throws the error `makeError(message)` gives (UsageError).
 */
export function parseFlagValue(name, raw, makeError = argError) {
  const rule = typeof name === 'string' ? RULES[name] : name;
  const t = String(raw).trim();
  const ok = rule.int ? /^[+-]?\d+$/.test(t) : /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t);
  const v = ok ? Number(t) : NaN;
  if (!fits(rule, v)) throw makeError(`--${rule.flag} must be ${ruleText(rule)}, got '${raw}'`);
  return v;
}

/** The kvType option of the API: 'f32' or 'f16' (absent: f32). */
export function checkKvType(v, label = 'kvType') {
  kvTypeCode(v, label);
  return v ?? 'f32';
}

/** --kv-type on the command line: "--kv-type must be f32 or f16, got 'q8'" (the native CLI's words). */
export function parseKvTypeFlag(raw, makeError = argError) {
  if (!KV_TYPES.includes(raw)) throw makeError(`--kv-type must be ${KV_TYPES.join(' or ')}, got '${raw}'`);
  return raw;
}

/** The sampling and length options every generating call shares. */
const GENERATE_KEYS = ['maxTokens', 'temperature', 'topK', 'topP', 'minP', 'repeatPenalty', 'repeatLastN', 'seed', 'topN', 'nCtx'];

function checkKnown(opts, keys) {
  for (const k of keys) {
    const v = opts[k];
    if (v !== undefined && v !== null) checkOption(k, v);
  }
}

function checkStop(stop) {
  if (stop === undefined || stop === null) return;
  const list = typeof stop === 'string' ? [stop] : stop;
  if (!Array.isArray(list) || list.some((s) => typeof s !== 'string' || s === '')) {
    throw argError('stop must be a non-empty string or an array of them');
  }
}

/** Text a call needs: a string with something in it. */
export function checkText(what, text) {
  if (typeof text !== 'string') throw argError(`${what} must be a string, got ${shown(text)}`);
  if (text.trim() === '') throw argError(`${what} is empty`);
  return text;
}

/** generate(prompt, opts) */
export function checkGenerate(prompt, opts = {}) {
  if (Array.isArray(prompt) || ArrayBuffer.isView(prompt)) {
    if (prompt.length === 0) throw argError('the prompt is empty');
  } else checkText('the prompt', prompt);
  checkKnown(opts, GENERATE_KEYS);
  checkKvType(opts.kvType);
  checkStop(opts.stop);
}

/** chat(messages, opts) */
export function checkChat(messages, opts = {}) {
  if (!Array.isArray(messages) || messages.length === 0) throw argError('chat: messages must be a non-empty array of {role, content}');
  messages.forEach((m, i) => {
    if (!m || typeof m.role !== 'string' || typeof m.content !== 'string') throw argError(`chat: message ${i} must be {role: string, content: string}`);
  });
  checkKnown(opts, GENERATE_KEYS);
  checkKvType(opts.kvType);
  checkStop(opts.stop);
}

/**
 * The language codes a translation model can translate into, from its
 * vocabulary's >>xx<< tags ([] for a single-direction model, which has none).
 */
export function targetsOf(pieces) {
  const out = [];
  for (const p of pieces) {
    const m = /^>>([A-Za-z_]{2,12})<<$/.exec(p);
    if (m) out.push(m[1]);
  }
  return out.sort();
}

/**
 * translate(text, opts). targets: the model's target languages (targetsOf);
 * `to`, when given, must be one of them (a model without tags takes none).
 */
export function checkTranslate(text, opts = {}, targets = null, label = (k) => k) {
  checkText('the text', text);
  for (const k of ['beam', 'noRepeatNgram', 'noRepeatSpan']) {
    if (opts[k] !== undefined && opts[k] !== null) checkOption(k, opts[k], label(k));
  }
  checkTo(opts.to, targets, label('to'));
}

/** `to` is a target of this model (or absent: detect the language and translate into the other). */
export function checkTo(to, targets, label = 'to') {
  if (to === undefined || to === null || to === '') return;
  if (typeof to !== 'string') throw argError(`${label} must be a language code like 'es', got ${shown(to)}`);
  if (targets === null) return;
  if (!targets.length) throw argError(`${label}: this model translates in one direction only; leave ${label} out`);
  const given = label.startsWith('--') ? `'${to}'` : shown(to);
  if (!targets.includes(to)) throw argError(`${label} must be one of this model's target languages (${targets.join(', ')}), got ${given}`);
}

/** The other language of a two-language model (targets [a, b]), or null. */
export function otherLanguage(lang, targets) {
  if (!lang || !targets || targets.length !== 2 || !targets.includes(lang)) return null;
  return targets[0] === lang ? targets[1] : targets[0];
}

export const LANGUAGE_NAMES = { en: 'English', es: 'Spanish' };
export const languageName = (code) => LANGUAGE_NAMES[code] || code;
