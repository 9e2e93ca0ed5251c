// vocab_stress.mjs — awkward test strings for tokenizers, and a comparison of
// atento (its WebAssembly build) with Hugging Face's tokenizers on them.
//
//   node models/tools/vocab_stress.mjs inputs N OUT.inp [--nfc]
//       N strings (seeded: the same every time), one in three a Tatoeba
//       sentence (../shared/data/tatoeba-en-es), the others random runs from
//       pools of ASCII letters, digits, punctuation, whitespace with CR/LF/tabs,
//       accented Latin, Greek, Cyrillic, CJK, kana, Hangul, Arabic-Indic
//       digits, ²³¹¼½¾, combining marks, emoji, title-case and modifier
//       letters, Unicode spaces, fullwidth forms and contractions; written
//       separated by "\n__ggml_vocab_test__\n" (--nfc: each put in NFC).
//   NODE_PATH=/tmp/hf/node_modules node models/tools/vocab_stress.mjs compare N [--nfc] VOCAB.gguf=tokenizer.json ...
//       tokenizes the N strings with atento and with Hugging Face's
//       tokenizers (npm "tokenizers", installed outside the repository) and
//       counts the strings whose ids are equal.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const [mode, nStr, ...rest] = process.argv.slice(2);
const nfc = rest.includes('--nfc');
const args = rest.filter((a) => a !== '--nfc');

let seed = 12345;
const rnd = (n) => { seed = (seed * 1103515245 + 12345) >>> 0; return (seed >>> 8) % n; };
const pools = [
  'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', '0123456789', '0123456789', " '\"!?.,;:-_()[]{}<>/\\|@#$%^&*+=~`",
  '    ', '\t\n\r\n\n  \n', 'àéîõüçñÀÉÎÕÜÇÑßøåæœ', 'αβγδεζηθΑΒΓΔΕ', 'абвгдежзАБВГДЕЖЗ', '日本語中文字一二三四五龥鿿',
  'ひらがなカタカナー', '한국어가나다', '٠١٢٣٤٥٦٧٨٩', '²³¹¼½¾⅓', '\u0301\u0308\u0327\u064b', '🦙😀👍🏽❤️✨', 'ǅǈǋʰʲˆー々〆',
  '　\u00a0\u0085\u2028\u2003', '＂＃＄％＆（）０１２ＡＢＣａｂｃ', "'s'S'll'LL're'VE'd'M't", 'ℂℇℊΩKÅ⁰ⁱⁿ', '‘’“”„‟…–—',
];
const lines = fs.readFileSync(join(root, '..', 'shared', 'data', 'tatoeba-en-es', 'en-es.tsv'), 'utf8').split('\n').filter(Boolean);
const inputs = [];
for (let i = 0; i < +nStr; i++) {
  if (i % 3 === 0) { const l = lines[rnd(lines.length)].split('\t'); inputs.push(l[rnd(2)] || ''); continue; }
  let s = '';
  const len = 1 + rnd(40);
  for (let k = 0; k < len; k++) {
    const p = [...pools[rnd(pools.length)]];
    const run = 1 + rnd(4);
    for (let r = 0; r < run; r++) s += p[rnd(p.length)];
  }
  inputs.push(s);
}
if (nfc) for (let i = 0; i < inputs.length; i++) inputs[i] = inputs[i].normalize('NFC');

if (mode === 'inputs') {
  fs.writeFileSync(args[0], inputs.join('\n__ggml_vocab_test__\n'));
} else if (mode === 'compare') {
  const require = createRequire(join(process.cwd(), 'x.js'));
  const { Tokenizer } = require('tokenizers');
  const { initAtentoFromFile, loadModelFromFile } = await import(join(root, 'js', 'node.js'));
  const rt = await initAtentoFromFile();
  for (const pair of args) {
    const [g, j] = pair.split('=');
    const model = loadModelFromFile(rt, g, { allowUnknownPretokenizer: false });
    const hf = Tokenizer.fromFile(j);
    let eq = 0, shown = 0;
    for (const s of inputs) {
      const a = Array.from(model.tokenize(s, { addSpecial: false, parseSpecial: false }));
      const b = (await hf.encode(s, null, { addSpecialTokens: false })).getIds();
      if (a.length === b.length && a.every((x, i) => x === b[i])) eq++;
      else if (shown++ < 3) console.log(`  differs on ${JSON.stringify(s)}\n    atento ${a.join(' ')}\n    hf     ${b.join(' ')}`);
    }
    console.log(`${g}: ${eq}/${inputs.length} equal`);
    model.free();
  }
} else {
  console.error('usage: vocab_stress.mjs inputs N OUT.inp [--nfc] | compare N [--nfc] VOCAB.gguf=tokenizer.json ...');
  process.exit(2);
}
