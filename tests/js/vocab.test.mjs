// vocab.test.mjs — the JS API and both CLIs on what llama.cpp tolerates:
// tokenizer-only models (a vocabulary without tensors, an architecture atento
// cannot run), warnings, and an unknown pre-tokenizer (refused by name, or
// GPT-2's rules with the opt-in). Same behaviour in WASM and native.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runtime, root, cli, nativeCliRun, tempDir } from './helpers.mjs';

const vocab = (name) => join(root, 'tests', 'data', 'vocab', `${name}.gguf`);
const llama2c = join(root, 'tests', 'data', 'llama2c', 'model.gguf');

/** The file's bytes with tokenizer.ggml.pre = `from` renamed to `to` (same length). */
function renamePre(bytes, from, to) {
  const key = Buffer.from('tokenizer.ggml.pre');
  const out = Buffer.from(bytes);
  const k = out.indexOf(key);
  assert.ok(k > 0, 'key found');
  const v = k + key.length + 4 + 8; // type tag, string length
  assert.equal(out.toString('utf8', v, v + from.length), from);
  out.write(to, v, 'utf8');
  return new Uint8Array(out);
}

test('a vocabulary-only file is a tokenizer-only model: tokenize works, a session says why not', async () => {
  const rt = await runtime();
  const m = rt.loadModel(readFileSync(vocab('gpt-4o')));
  assert.equal(m.runnable, false);
  assert.equal(m.info().runnable, false);
  assert.match(m.info().not_runnable, /only a vocabulary/);
  assert.deepEqual(m.warnings, []);
  const ids = m.tokenize('Hello World', { addSpecial: false });
  assert.ok(ids.length >= 2);
  assert.equal(m.detokenize(ids), 'Hello World');
  assert.throws(() => m.newSession(16), /only a vocabulary/);
  m.free();
  const f = rt.loadModel(readFileSync(vocab('falcon')));
  assert.equal(f.arch, 'falcon');
  assert.throws(() => f.newSession(16), /architecture 'falcon' is not supported for running/);
  f.free();
});

test('special-token ids outside the vocabulary (llama2c) load with warnings', async () => {
  const rt = await runtime();
  const m = rt.loadModel(readFileSync(llama2c));
  assert.equal(m.runnable, true);
  assert.equal(m.warnings.length, 2);
  assert.match(m.warnings[0], /padding_token_id = 4294967295 is outside the vocabulary/);
  assert.match(m.warnings[1], /seperator_token_id = 4294967295/);
  assert.deepEqual(m.info().warnings, m.warnings);
  m.free();
});

test('an unknown pre-tokenizer is refused by name; the opt-in falls back to GPT-2 and says so', async () => {
  const rt = await runtime();
  const bytes = renamePre(readFileSync(vocab('falcon')), 'falcon', 'fxlcon');
  assert.throws(() => rt.loadModel(bytes), /unknown pre-tokenizer tokenizer\.ggml\.pre = 'fxlcon'/);
  const m = rt.loadModel(bytes, { allowUnknownPretokenizer: true });
  assert.equal(m.warnings.length, 1);
  assert.match(m.warnings[0], /unknown pre-tokenizer .*'fxlcon': GPT-2's rules are used instead/);
  assert.ok(m.tokenize('Hello', { addSpecial: false }).length > 0);
  m.free();
});

test('both CLIs: tokenize / inspect a vocabulary-only file, --allow-unknown-pretokenizer, warnings on stderr', () => {
  const dir = tempDir();
  const bad = join(dir, 'unknown-pre.gguf');
  writeFileSync(bad, renamePre(readFileSync(vocab('falcon')), 'falcon', 'fxlcon'));
  const runs = [['wasm', cli], ['native', nativeCliRun]];
  const outs = {};
  for (const [name, run] of runs) {
    const t = run(['tokenize', '--model', vocab('deepseek-v3'), '--text', 'Hello 12345 world', '--json']);
    if (t === null) continue; // native CLI not built
    assert.equal(t.code, 0, `${name}: ${t.stderr}`);
    outs[name] = JSON.parse(t.stdout).ids;
    const i = run(['inspect', '--model', vocab('falcon'), '--json']);
    assert.equal(i.code, 0, `${name}: ${i.stderr}`);
    const info = JSON.parse(i.stdout);
    assert.equal(info.runnable, false);
    assert.equal(info.tokenizer.pre, 'falcon');
    const g = run(['generate', '--model', vocab('falcon'), '--prompt', 'hi']);
    assert.notEqual(g.code, 0);
    assert.match(g.stderr, /not supported for running/);
    const r = run(['tokenize', '--model', bad, '--text', 'Hello']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /unknown pre-tokenizer tokenizer\.ggml\.pre = 'fxlcon'/);
    const a = run(['tokenize', '--model', bad, '--text', 'Hello', '--allow-unknown-pretokenizer']);
    assert.equal(a.code, 0, `${name}: ${a.stderr}`);
    assert.match(a.stderr, /warning: .*unknown pre-tokenizer .*GPT-2's rules are used instead/);
    const w = run(['inspect', '--model', llama2c, '--json']);
    assert.equal(w.code, 0);
    assert.match(w.stderr, /warning: .*padding_token_id = 4294967295/);
    assert.equal(JSON.parse(w.stdout).warnings.length, 2);
  }
  if (outs.native) assert.deepEqual(outs.wasm, outs.native);
});

test('both CLIs: chat and translate take --allow-unknown-pretokenizer too, with the warning on every run', () => {
  const dir = tempDir();
  const bad = join(dir, 'unknown-pre-chat.gguf'); // a runnable qwen2 (byte-level BPE) whose pre-tokenizer atento does not know
  writeFileSync(bad, renamePre(readFileSync(join(root, 'tests', 'fuzz', 'corpus', 'model', 'qwen2_bpe_q8_0.gguf')), 'qwen2', 'qwxn2'));
  const conversation = JSON.stringify({ messages: [{ role: 'user', content: 'hola' }], max_tokens: 3 });
  const warning = /^warning: .*unknown pre-tokenizer tokenizer\.ggml\.pre = 'qwxn2': GPT-2's rules are used instead/m;
  const replies = {};
  for (const [name, run] of [['wasm', cli], ['native', nativeCliRun]]) {
    const refused = run(['chat', '--json', '--model', bad], { input: conversation });
    if (refused === null) continue; // native CLI not built
    assert.equal(refused.code, 1, `${name}: ${refused.stderr}`);
    assert.match(refused.stderr, /unknown pre-tokenizer tokenizer\.ggml\.pre = 'qwxn2' \(allow GPT-2's rules instead with --allow-unknown-pretokenizer\)/);
    for (let i = 0; i < 2; i++) { // every run says it
      const c = run(['chat', '--json', '--model', bad, '--allow-unknown-pretokenizer'], { input: conversation });
      assert.equal(c.code, 0, `${name}: ${c.stderr}`);
      assert.match(c.stderr, warning);
      replies[name] = JSON.parse(c.stdout).tokens;
    }
    // translate loads with the flag (and then refuses the model for what it is, not for its pre-tokenizer)
    const t = run(['translate', '--model', bad, '--allow-unknown-pretokenizer', 'Hello']);
    assert.equal(t.code, 1, `${name}: ${t.stderr}`);
    assert.match(t.stderr, warning);
    assert.match(t.stderr, /translat.* (model|marian)/);
    assert.doesNotMatch(t.stderr, /atento: .*unknown pre-tokenizer/);
    const ok = run(['translate', '--model', join(root, 'models', 'translate-en-es.gguf'), '--allow-unknown-pretokenizer', 'Hello.']);
    assert.equal(ok.code, 0, `${name}: ${ok.stderr}`);
    assert.equal(ok.stderr, '');
  }
  assert.equal(replies.wasm.length, 3);
  if (replies.native) assert.deepEqual(replies.wasm, replies.native);
});
