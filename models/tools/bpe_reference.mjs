// bpe_reference.mjs — an independent byte-level BPE encoder, the oracle for
// atento's gpt2 tokenizer tests. It uses the pre-tokenizers' real regular
// expressions (V8's engine, Unicode property escapes) and the textbook GPT-2
// merge loop (lowest-rank pair, all its occurrences, repeat), nothing shared
// with the C code.
//   node models/tools/bpe_reference.mjs VOCAB.json LINES.json > IDS.json
// VOCAB.json: {"tokens": [...], "merges": ["a b", ...]}; LINES.json: [text, ...]
// Output: {"gpt2": [[ids]...], "llama3": [...], "qwen2": [...], "smollm": [...]}
import fs from 'node:fs';

const [vocabPath, linesPath] = process.argv.slice(2);
const { tokens, merges } = JSON.parse(fs.readFileSync(vocabPath, 'utf8'));
const lines = JSON.parse(fs.readFileSync(linesPath, 'utf8'));
const vocab = new Map();
tokens.forEach((t, i) => { if (!vocab.has(t)) vocab.set(t, i); });
const ranks = new Map();
merges.forEach((m, i) => { if (!ranks.has(m)) ranks.set(m, i); });

// GPT-2's bytes_to_unicode
const bs = [];
for (let b = 33; b <= 126; b++) bs.push(b);
for (let b = 161; b <= 172; b++) bs.push(b);
for (let b = 174; b <= 255; b++) bs.push(b);
const cs = bs.slice();
let extra = 0;
for (let b = 0; b < 256; b++) if (!bs.includes(b)) { bs.push(b); cs.push(256 + extra++); }
const byteChar = new Array(256);
bs.forEach((b, i) => { byteChar[b] = String.fromCodePoint(cs[i]); });

// \s as Unicode White_Space (JS's own \s differs: it has U+FEFF, lacks U+0085)
const S = '\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const s = `[${S}]`, nS = `[^${S}]`;
const C = "'s|'t|'re|'ve|'m|'ll|'d";
const CI = "'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]";
const RE = {
  gpt2: `${C}| ?\\p{L}+| ?\\p{N}+| ?[^${S}\\p{L}\\p{N}]+|${s}+(?!${nS})|${s}+`,
  llama3: `(?:${CI})|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^${S}\\p{L}\\p{N}]+[\\r\\n]*|${s}*[\\r\\n]+|${s}+(?!${nS})|${s}+`,
  qwen2: `(?:${CI})|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^${S}\\p{L}\\p{N}]+[\\r\\n]*|${s}*[\\r\\n]+|${s}+(?!${nS})|${s}+`,
};

function split(re, text) {
  const out = [];
  const r = new RegExp(re, 'gu');
  let last = 0, m;
  while ((m = r.exec(text)) !== null) {
    if (m.index !== last) throw new Error('regex skipped text: ' + JSON.stringify(text));
    out.push(m[0]);
    last = m.index + m[0].length;
    if (m[0].length === 0) r.lastIndex++;
  }
  if (last !== text.length) throw new Error('regex left text: ' + JSON.stringify(text));
  return out;
}

function pretokenize(pre, text) {
  if (pre !== 'smollm') return split(RE[pre], text);
  const out = [];
  for (const part of text.split(/(\p{N})/u)) if (part) out.push(...(/^\p{N}$/u.test(part) ? [part] : split(RE.gpt2, part)));
  return out;
}

function bpe(word) {
  let w = Array.from(word);
  for (;;) {
    let best = null, bestRank = Infinity;
    for (let i = 0; i + 1 < w.length; i++) {
      const r = ranks.get(w[i] + ' ' + w[i + 1]);
      if (r !== undefined && r < bestRank && vocab.has(w[i] + w[i + 1])) { bestRank = r; best = [w[i], w[i + 1]]; }
    }
    if (!best) break;
    const nw = [];
    for (let i = 0; i < w.length;) {
      if (i + 1 < w.length && w[i] === best[0] && w[i + 1] === best[1]) { nw.push(best[0] + best[1]); i += 2; }
      else { nw.push(w[i]); i++; }
    }
    w = nw;
  }
  return w;
}

function encode(pre, text) {
  const ids = [];
  // Qwen2's tokenizer.json normalizes to NFC before pre-tokenizing
  if (pre === 'qwen2') text = text.normalize('NFC');
  for (const piece of pretokenize(pre, text)) {
    const mapped = Array.from(Buffer.from(piece, 'utf8')).map((b) => byteChar[b]).join('');
    if (pre === 'llama3' && vocab.has(mapped)) { ids.push(vocab.get(mapped)); continue; }
    for (const t of bpe(mapped)) ids.push(vocab.get(t));
  }
  return ids;
}

const result = {};
for (const pre of ['gpt2', 'llama3', 'qwen2', 'smollm']) result[pre] = lines.map((l) => encode(pre, l));
process.stdout.write(JSON.stringify(result));
