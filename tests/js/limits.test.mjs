// limits.test.mjs — the WebAssembly build at the sizes where 32-bit
// arithmetic used to wrap, the 2 GiB / 4 GiB limits of wasm32, long strings
// read back from wasm memory, and recovery after a trap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { AtentoError } from '../../js/core.js';
import { root, runtime, cli, tempDir, llamaDir } from './helpers.mjs';

const tutor = join(root, 'models', 'tutor-en-es.gguf');
const translator = join(root, 'models', 'translate-en-es.gguf');
const haveModels = existsSync(tutor) && existsSync(translator);

function oneLine(r, code, re) {
  assert.equal(r.code, code, `exit ${r.code}: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], re);
  assert.doesNotMatch(r.stderr, /RuntimeError|internal error|at .*\.js:\d+/);
}

test('a trap discards the instance and starts a fresh one: E_ABORT, then other models work', { skip: !haveModels && 'no shipped models' }, async () => {
  const rt = await runtime();
  const chat = rt.loadModel(readFileSync(tutor));
  const ids = chat.tokenize('hola');
  const s = chat.newSession(64);
  const epoch = rt.epoch;
  // A pointer far outside the memory makes the C code read out of bounds:
  // the same RuntimeError a hostile input that slips past a check would give.
  assert.throws(() => rt.fn('atn_model_load')(0xffffff00, 4096, 0), (e) => e instanceof AtentoError && e.code === 'E_ABORT' &&
    /trapped in atn_model_load \(RuntimeError: memory access out of bounds\).*fresh one started/.test(e.message));
  assert.equal(rt.epoch, epoch + 1);
  // handles of the discarded instance refuse to be used, and free quietly
  assert.throws(() => chat.tokenize('hola'), (e) => e.code === 'E_ABORT' && /load the model again/.test(e.message));
  assert.throws(() => s.eval(ids), (e) => e.code === 'E_ABORT');
  s.free();
  chat.free();
  // the fresh instance works: another model, then the first one again
  const tr = rt.loadModel(readFileSync(translator));
  assert.ok(tr.tokenize('Hello, world.').length > 2);
  const chat2 = rt.loadModel(readFileSync(tutor));
  assert.deepEqual([...chat2.tokenize('hola')], [...ids]);
  const s2 = chat2.newSession(64);
  s2.eval(ids);
  assert.equal(s2.logits().length, chat2.nVocab);
  const smp = chat2.newSampler({ temperature: 0, seed: 1 });
  let n = 0;
  for (const piece of chat2.generate(s2, smp, { maxTokens: 4 })) n += piece.token >= 0 ? 1 : 0;
  assert.ok(n >= 1);
  smp.free(); s2.free(); chat2.free(); tr.free();
});

test('KV caches that wrapped to 0 bytes in 32 bits are refused with their size', { skip: !haveModels && 'no shipped models' }, async () => {
  const rt = await runtime();
  const m = rt.loadModel(readFileSync(tutor)); // 8 layers x 256 KV values: 2^32 bytes at 524288 tokens
  for (const [ctx, gib] of [[524288, '8.0'], [262144, '4.0']]) {
    assert.throws(() => m.newSession(ctx), (e) => e.code === 'E_SESSION' &&
      new RegExp(`session of ${ctx} tokens needs a ${gib} GiB KV cache \\(f32\\), more than WebAssembly \\(4 GiB\\) can address`).test(e.message), `ctx ${ctx}`);
  }
  const s = m.newSession(512);
  s.eval(m.tokenize('hola'));
  s.free();
  m.free();
});

test('CLI: --ctx 524288 and 262144 end with one line about the KV cache, not a trap', { skip: !haveModels && 'no shipped models' }, () => {
  for (const ctx of ['524288', '262144']) {
    oneLine(cli(['generate', '--model', tutor, '--prompt', 'hola', '--ctx', ctx, '--max-tokens', '2']), 1, /KV cache/);
  }
});

test('tokenizing one 180 MB word fails cleanly and the model keeps working', { skip: !haveModels && 'no shipped models' }, async () => {
  const rt = await runtime();
  const m = rt.loadModel(readFileSync(tutor));
  const word = new Uint8Array(180e6).fill(0x61);
  assert.throws(() => m.tokenize(word), (e) => e.code === 'E_TOKENIZE' && /tokenize: (out of memory|text too long)/.test(e.message));
  assert.ok(m.tokenize('hola').length >= 1);
  m.free();
});

test('wasm32 limits are stated: 2 GiB per allocation (a model file), 4 GiB in all', async () => {
  const rt = await runtime();
  const before = rt.memoryBytes;
  assert.throws(() => rt.reserve(2049 * 2 ** 20), (e) => e.code === 'E_NOMEM' &&
    /model file is 2049 MiB; the WebAssembly build holds model files of at most 2048 MiB/.test(e.message));
  assert.throws(() => rt.malloc(2 ** 31 + 1), (e) => e.code === 'E_NOMEM' && /one allocation is limited to 2048 MiB/.test(e.message));
  assert.throws(() => rt.malloc(-1), (e) => e.code === 'E_ARG');
  assert.throws(() => rt.malloc(2 ** 53), (e) => e.code === 'E_ARG');
  assert.equal(rt.memoryBytes, before, 'nothing was allocated');
  const p = rt.malloc(1024);
  rt.free(p);
});

// A copy of a model with a tokenizer.chat_template of `len` bytes inserted as
// the first metadata entry. The entry's size is a multiple of 32, so the
// data section keeps its alignment and every tensor offset stays valid.
function withTemplate(src, len) {
  const key = Buffer.from('tokenizer.chat_template');
  const entry = 8 + key.length + 4 + 8 + len;
  assert.equal(entry % 32, 0);
  const out = Buffer.alloc(src.length + entry);
  src.copy(out, 0, 0, 24);
  out.writeBigUInt64LE(src.readBigUInt64LE(16) + 1n, 16);
  let o = 24;
  out.writeBigUInt64LE(BigInt(key.length), o); o += 8;
  key.copy(out, o); o += key.length;
  out.writeUInt32LE(8, o); o += 4; // string
  out.writeBigUInt64LE(BigInt(len), o); o += 8;
  out.fill(0x41, o, o + len); o += len; // "AAAA…": plain text, a valid template
  src.copy(out, o, 24);
  return out;
}

test('strings longer than 16 MiB come back whole: inspect of a model with a 17 MB template', () => {
  const src = readFileSync(join(llamaDir, 'llama_f32.gguf'));
  const len = 17e6 - ((8 + 23 + 4 + 8 + 17e6) % 32); // about 17 MB, entry a multiple of 32
  const path = join(tempDir(), 'big-template.gguf');
  writeFileSync(path, withTemplate(src, len));
  const r = cli(['inspect', '--model', path, '--json'], { maxBuffer: 64 << 20 });
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.equal(info.chat_template.length, len);
  assert.ok(/^A+$/.test(info.chat_template));
});

// Both CLIs on arguments that are not valid UTF-8 (passed as raw bytes
// through the shell: Node cannot put them in argv itself) and on the other
// inputs where their exit codes used to differ: same status, same message.
test('native and WebAssembly CLIs agree on invalid UTF-8 arguments and exit codes', { skip: (!haveModels || !existsSync(join(root, 'build', 'atento'))) && 'no models or no native build' }, () => {
  const sh = (cmd) => {
    const r = spawnSync('bash', ['-c', cmd], { cwd: root, encoding: 'utf8', timeout: 120000 });
    return { code: r.status, stderr: r.stderr.trim() };
  };
  const cases = [
    [`generate --model ${tutor} --prompt "$(printf 'hola \\xff')" --max-tokens 2`, 1, /^atento: --prompt: invalid UTF-8 at byte 5$/],
    [`generate --model ${tutor} "--prompt=$(printf 'ho\\xc0\\x80')" --max-tokens 2`, 1, /^atento: --prompt: invalid UTF-8 at byte 2$/],
    [`tokenize --model ${tutor} --text "$(printf '\\xc3\\xb1\\xed\\xa0\\x80x')"`, 1, /^atento: --text: invalid UTF-8 at byte 2$/],
    [`translate --model ${translator} "$(printf 'a\\xf4\\x90\\x80\\x80')"`, 1, /^atento: argument 4: invalid UTF-8 at byte 1$/],
    [`generate --model ${tutor} --prompt hola --stop "$(printf '\\xff')" --max-tokens 2`, 1, /^atento: --stop: invalid UTF-8 at byte 0$/],
    [`tokenize --model ${tutor} --ids 999999`, 2, /out of range \(the vocabulary has 6000 tokens\)$/],
    [`generate --model ${tutor} --tokens 999999`, 2, /out of range/],
    [`score --model ${tutor} --tokens 1`, 2, /need at least 2 tokens to score, got 1$/],
    [`generate --model ${tutor} --prompt hola --ctx 99999999999`, 2, /--ctx/],
    [`generate --model ${tutor} --prompt hola --repeat-last-n 5000`, 2, /--repeat-last-n/],
  ];
  for (const [args, code, re] of cases) {
    const wasm = sh(`exec "${process.execPath}" bin/atento.js ${args}`);
    const native = sh(`exec build/atento ${args}`);
    assert.equal(wasm.code, code, `wasm: ${args}: ${wasm.stderr}`);
    assert.equal(native.code, code, `native: ${args}: ${native.stderr}`);
    assert.match(wasm.stderr, re, `wasm: ${args}`);
    assert.match(native.stderr, re, `native: ${args}`);
    if (code === 1) assert.equal(wasm.stderr, native.stderr, args);
  }
  // chat, lines piped on stdin: a bad line is refused with a note, the next
  // one is answered, and the exit status says a turn failed
  const chat = (bin) => sh(`printf 'hola \\xff\\nhola\\n' | ${bin} chat --model ${tutor} --max-tokens 2 --temperature 0`);
  const w = chat(`"${process.execPath}" bin/atento.js`), n = chat('build/atento');
  assert.equal(w.code, 1, w.stderr);
  assert.equal(n.code, 1, n.stderr);
  assert.equal(w.stderr, n.stderr);
  assert.match(w.stderr, /^\[error: the line is not valid UTF-8 \(byte 5\)\]\n\[reply cut at 2 tokens\]$/);
});
