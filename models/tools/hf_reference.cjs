// hf_reference.cjs — the oracle for tests/data/vocab: the ids that Hugging Face's own
// tokenizers library (its Rust core, npm package "tokenizers") gives each input
// of a llama.cpp-style .inp file (add_special_tokens = false), one line each.
//   (cd /tmp/hf && npm install tokenizers@0.23.2)
//   NODE_PATH=/tmp/hf/node_modules node models/tools/hf_reference.cjs tokenizer.json X.inp > X.out
const { Tokenizer } = require('tokenizers');
const fs = require('fs');
const [tj, inp] = process.argv.slice(2);
const t = Tokenizer.fromFile(tj);
const raw = fs.readFileSync(inp, 'utf8');
const sep = '\n__ggml_vocab_test__\n';
const parts = [];
let pos = 0;
while (pos < raw.length) { const n = raw.indexOf(sep, pos); if (n < 0) { parts.push(raw.slice(pos)); break; } parts.push(raw.slice(pos, n)); pos = n + sep.length; }
(async () => {
  const out = [];
  for (const p of parts) { const e = await t.encode(p, null, { addSpecialTokens: false }); out.push(e.getIds().map((x) => ' ' + x).join('')); }
  process.stdout.write(out.join('\n') + '\n');
})();
