// translate.test.mjs — `atento convert marian` and `atento translate`:
// the converter reproduces the committed GGUFs byte for byte, the converted
// models give the NumPy reference logits in WASM, hostile checkpoints give
// one-line errors, and the translate CLI's flags and outputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync, cpSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { cli, root, runtime, tempDir } from './helpers.mjs';
import { convertMarian } from '../../js/convert/marian.js';
import { readSafetensors } from '../../js/convert/safetensors.js';
import { parseSpm } from '../../js/convert/spm.js';
import { makeQuantizer, parseArgs as convertArgs } from '../../js/cli/convert.js';
import { parseArgs as translateArgs } from '../../js/cli/translate.js';

const data = join(root, 'tests', 'data', 'marian');
const tmp = tempDir();

/** ref.bin (models/tools/make_marian.py): cases of source ids, decoder inputs, logits. */
function readRef(path) {
  const b = readFileSync(path);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  assert.equal(b.subarray(0, 4).toString(), 'MREF');
  const n = dv.getUint32(4, true);
  const V = dv.getUint32(8, true);
  let o = 12;
  const ints = (k) => { const a = []; for (let i = 0; i < k; i++) a.push(dv.getInt32(o + 4 * i, true)); o += 4 * k; return a; };
  const cases = [];
  for (let c = 0; c < n; c++) {
    const src = ints(dv.getUint32(o, true) + 0 * (o += 4));
    const nt = dv.getUint32(o, true); o += 4;
    const tgt = ints(nt);
    const logits = new Float32Array(b.buffer.slice(b.byteOffset + o, b.byteOffset + o + 4 * nt * V));
    o += 4 * nt * V;
    cases.push({ src, tgt, logits });
  }
  return { V, cases };
}

function maxDiffLogits(model, ref) {
  const s = model.newSession(64);
  let worst = 0;
  for (const c of ref.cases) {
    s.setSource(c.src);
    s.truncate(0);
    s.eval(c.tgt, { allLogits: true });
    for (let t = 0; t < c.tgt.length; t++) {
      const lg = s.logits(t);
      for (let v = 0; v < ref.V; v++) worst = Math.max(worst, Math.abs(lg[v] - c.logits[t * ref.V + v]));
    }
  }
  s.free();
  return worst;
}

for (const name of ['tiny', 'opus']) {
  test(`convert ${name}: f32 and q8_0 equal the committed GGUFs byte for byte`, async () => {
    const rt = await runtime();
    for (const type of ['f32', 'q8_0']) {
      const { bytes } = convertMarian(join(data, name), { type, quantize: makeQuantizer(rt) });
      const want = readFileSync(join(data, `${name}.${type}.gguf`));
      assert.equal(bytes.length, want.length, `${name}.${type}: size`);
      assert.ok(Buffer.from(bytes).equals(want), `${name}.${type}: bytes differ`);
    }
  });

  test(`convert ${name}: WASM logits equal the NumPy reference (f32 <= 1e-3, q8_0 <= 0.3)`, async () => {
    const rt = await runtime();
    const ref = readRef(join(data, name, 'ref.bin'));
    for (const [type, tol] of [['f32', 1e-3], ['q8_0', 0.3], ['f16', 2e-2]]) {
      const { bytes } = convertMarian(join(data, name), { type, quantize: makeQuantizer(rt) });
      const model = rt.loadModel(bytes);
      assert.equal(model.arch, 'marian');
      const d = maxDiffLogits(model, ref);
      assert.ok(d <= tol, `${name}.${type}: max abs diff ${d} > ${tol}`);
      model.free();
    }
  });
}

test('convert: source and target tokenizers, tags, ids from vocab.json', async () => {
  const rt = await runtime();
  const { bytes } = convertMarian(join(data, 'opus'), { type: 'f32' });
  const m = rt.loadModel(bytes);
  const info = m.info();
  assert.equal(info.architecture, 'marian');
  // target text tokenizes with target.spm into vocab.json ids (cases.json from sentencepiece itself)
  const cases = JSON.parse(readFileSync(join(data, 'opus', 'cases.json'), 'utf8')).cases;
  for (const c of cases) assert.deepEqual(Array.from(m.tokenize(c.target)), c.tgt_ids.slice(1), c.target);
  m.free();
  const tiny = JSON.parse(readFileSync(join(data, 'tiny', 'cases.json'), 'utf8')).cases;
  const mt = rt.loadModel(readFileSync(join(data, 'tiny.f32.gguf')));
  for (const c of tiny) assert.deepEqual(Array.from(mt.tokenize(c.source)), c.src_ids.slice(1, -1), c.source);
  assert.equal(mt.lookup('>>es<<'), tiny[0].src_ids[0]);
  mt.free();
});

function brokenCopy(name, edit) {
  const d = join(tmp, name);
  mkdirSync(d, { recursive: true });
  cpSync(join(data, 'tiny'), d, { recursive: true });
  edit(d);
  return d;
}

test('convert: hostile or unsupported checkpoints give clear errors', () => {
  const cfg = JSON.parse(readFileSync(join(data, 'tiny', 'config.json'), 'utf8'));
  const cases = [
    [brokenCopy('act', (d) => writeFileSync(join(d, 'config.json'), JSON.stringify({ ...cfg, activation_function: 'tanh' }))), /activation_function 'tanh'/],
    [brokenCopy('heads', (d) => writeFileSync(join(d, 'config.json'), JSON.stringify({ ...cfg, encoder_attention_heads: 5, decoder_attention_heads: 5 }))), /bad sizes/],
    [brokenCopy('cfg', (d) => writeFileSync(join(d, 'config.json'), '{not json')), /config.json.*not valid JSON/],
    [brokenCopy('vocab', (d) => writeFileSync(join(d, 'vocab.json'), JSON.stringify({ a: 99999 }))), /vocab.json: id 99999/],
    [brokenCopy('st1', (d) => writeFileSync(join(d, 'model.safetensors'), Buffer.from([1, 2, 3]))), /safetensors: file too short/],
    [brokenCopy('st2', (d) => {
      const h = Buffer.from('{"x":{"dtype":"F32","shape":[1000000],"data_offsets":[0,4000000]}}');
      const len = Buffer.alloc(8); len.writeBigUInt64LE(BigInt(h.length));
      writeFileSync(join(d, 'model.safetensors'), Buffer.concat([len, h]));
    }), /outside the file/],
    [brokenCopy('st3', (d) => {
      const len = Buffer.alloc(8); len.writeBigUInt64LE(1n << 40n);
      writeFileSync(join(d, 'model.safetensors'), Buffer.concat([len, Buffer.from('{}')]));
    }), /bad header length/],
    [brokenCopy('spm', (d) => writeFileSync(join(d, 'target.spm'), Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f]))), /spm: truncated/],
    [brokenCopy('missing', (d) => {
      const b = readFileSync(join(d, 'model.safetensors'));
      const st = readSafetensors(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
      const hdr = {};
      let off = 0;
      const blobs = [];
      for (const [k, v] of st) {
        if (k === 'model.decoder.layers.1.fc2.weight') continue;
        hdr[k] = { dtype: v.dtype, shape: v.shape, data_offsets: [off, off + v.end - v.begin] };
        blobs.push(b.subarray(v.begin, v.end));
        off += v.end - v.begin;
      }
      const h = Buffer.from(JSON.stringify(hdr));
      const len = Buffer.alloc(8); len.writeBigUInt64LE(BigInt(h.length));
      writeFileSync(join(d, 'model.safetensors'), Buffer.concat([len, h, ...blobs]));
    }), /model.decoder.layers.1.fc2.weight is missing/],
    [join(tmp, 'nope'), /no such directory/],
  ];
  for (const [dir, re] of cases) assert.throws(() => convertMarian(dir, { type: 'f32' }), re, dir);
  assert.throws(() => parseSpm(new Uint8Array([0x08, 0x01])), /no pieces/);
});

test('convert CLI: positional form, flag form, errors', () => {
  assert.deepEqual(convertArgs(['marian', 'DIR', '-o', 'x.gguf', '--type', 'f16']), { type: 'f16', arch: 'marian', dir: 'DIR', out: 'x.gguf' });
  assert.throws(() => convertArgs(['marian', 'a', 'b']), /unexpected argument 'b'/);
  const out = join(tmp, 'cli.gguf');
  let r = cli(['convert', '--arch', 'marian', '--dir', join(data, 'tiny'), '--out', out, '--type', 'f32']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(readFileSync(out).equals(readFileSync(join(data, 'tiny.f32.gguf'))));
  r = cli(['convert', '--arch', 'marian', '--dir', join(data, 'tiny'), '--out', out, '--type', 'q3_k']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--type must be one of/);
  r = cli(['convert', '--arch', 'bert', '--dir', data, '--out', out]);
  assert.equal(r.code, 2);
  r = cli(['convert', '--arch', 'marian', '--dir', join(tmp, 'nope'), '--out', out]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^atento: .*no such directory\n$/);
});

test('translate CLI: text, stdin, --json, --beam, --to, paragraphs kept', () => {
  const model = join(data, 'tiny.f32.gguf');
  let r = cli(['translate', '--model', model, '--to', 'es', '--text', 'Tom is here. Where is it?\n\nBye.']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^[^\n]+\n\n[^\n]+\n$/, JSON.stringify(r.stdout));
  r = cli(['translate', '--model', model, '--to', 'es', '--beam', '4', '--json', '--attention'], { input: 'Hello. Good night!\n' });
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.translations.length, 2);
  assert.equal(j.translations[0].source, 'Hello.');
  for (const t of j.translations) {
    assert.ok(t.tokens.length > 0 && typeof t.text === 'string');
    assert.equal(t.attention.length, t.tokens.length);
    for (const row of t.attention) assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-2);
  }
  assert.ok(j.timings.translate_ms >= 0 && j.timings.sentences === 2);
  // greedy through the CLI equals greedy through --beam 1 --json
  const g1 = JSON.parse(cli(['translate', '--model', model, '--json', '--text', 'Hello.']).stdout);
  const g2 = cli(['translate', '--model', model, '--text', 'Hello.']).stdout;
  assert.equal(g2, g1.translations[0].text + '\n');
});

test('translate CLI: errors are one line', () => {
  const model = join(data, 'tiny.f32.gguf');
  const bad = [
    [['translate', '--model', model, '--beam', '9', '--text', 'x'], 2, /--beam must be an integer from 1 to 8, got '9'/],
    [['translate', '--model', model, '--to', 'xx', '--text', 'x'], 2, /--to must be one of this model's target languages \(.*\), got 'xx'/],
    [['translate', '--model', join(tmp, 'none.gguf'), '--text', 'x'], 1, /cannot open model/],
    [['translate', '--model', model, '--to', '../../etc', '--text', 'x'], 2, /--to must be one of this model's target languages/],
  ];
  for (const [args, code, re] of bad) {
    const r = cli(args);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, r.stderr);
    assert.match(r.stderr, re);
  }
  // stdin is checked byte by byte (a Node string would have hidden bad bytes as U+FFFD)
  const r = cli(['translate', '--model', model, '--to', 'es'], { input: Buffer.from([0xff, 0xfe, 0x20, 0x62]) });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /^atento: the text on stdin is not valid UTF-8\n$/);
  assert.deepEqual(translateArgs(['--beam', '3', 'Hola mundo']), { beam: 3, json: false, attention: false, text: 'Hola mundo' });
  assert.throws(() => translateArgs(['a', 'b']), /one argument/);
});

test('scoreMarian: log p(target | source) equals the reference logits', async () => {
  const { scoreMarian } = await import('../../js/cli/translate.js');
  const rt = await runtime();
  for (const name of ['tiny', 'opus']) {
    const ref = readRef(join(data, name, 'ref.bin'));
    const cases = JSON.parse(readFileSync(join(data, name, 'cases.json'), 'utf8')).cases;
    const m = rt.loadModel(readFileSync(join(data, `${name}.f32.gguf`)));
    const to = name === 'tiny' ? 'es' : null;
    const r = scoreMarian(rt, m, { source: cases[0].source, target: cases[0].target, to });
    assert.deepEqual(r.sourceTokens, cases[0].src_ids);
    const c = ref.cases[0];
    // logprobs[i] = log softmax(ref logits at position i)[tgt[i+1]] for the positions the reference has
    for (let i = 0; i + 1 < c.tgt.length; i++) {
      const row = c.logits.subarray(i * ref.V, (i + 1) * ref.V);
      const mx = Math.max(...row);
      const lse = mx + Math.log(row.reduce((a, v) => a + Math.exp(v - mx), 0));
      assert.ok(Math.abs(r.logprobs[i] - (row[c.tgt[i + 1]] - lse)) < 1e-3, `${name} position ${i}`);
    }
    assert.equal(r.tokens[r.tokens.length - 1], m.eos);
    m.free();
  }
});

test('native CLI translate: same tokens as the WASM CLI (greedy and beam 4)', async () => {
  const { nativeCliRun } = await import('./helpers.mjs');
  const probe = nativeCliRun(['translate', '--help']);
  if (!probe || probe.code !== 0) return; // native CLI not built (or without translate)
  const shipped = join(root, 'models', 'translate-en-es.gguf');
  const model = existsSync(shipped) ? shipped : join(data, 'tiny.f32.gguf');
  const text = 'The weather is nice today. Where is the train station?\n\nI would like a cup of coffee, please.';
  for (const beam of ['1', '4']) {
    const w = cli(['translate', '--model', model, '--to', 'es', '--beam', beam, '--json', '--text', text]);
    const n = nativeCliRun(['translate', '--model', model, '--to', 'es', '--beam', beam, '--json', '--text', text]);
    assert.equal(w.code, 0, w.stderr);
    assert.equal(n.code, 0, n.stderr);
    const jw = JSON.parse(w.stdout), jn = JSON.parse(n.stdout);
    assert.deepEqual(jn.translations.map((t) => t.tokens), jw.translations.map((t) => t.tokens), `beam ${beam}`);
    assert.deepEqual(jn.translations.map((t) => t.text), jw.translations.map((t) => t.text));
  }
  const plain = nativeCliRun(['translate', '--model', model, '--text', 'Hello.\n\nBye.']);
  assert.match(plain.stdout, /^[^\n]+\n\n[^\n]+\n$/);
  const bad = nativeCliRun(['translate', '--model', model, '--beam', '0', '--text', 'x']);
  assert.equal(bad.code, 2);
});

test('translate with a chat model: both CLIs refuse it with the same line, naming the architecture the file declares', async () => {
  const { nativeCliRun } = await import('./helpers.mjs');
  const probe = nativeCliRun(['translate', '--help']);
  if (!probe || probe.code !== 0) return; // native CLI not built (or without translate)
  // qwen2 and qwen3 run on the llama forward pass; the message names what the file says
  for (const [file, arch] of [['llama/qwen2_f32.gguf', 'qwen2'], ['arch/qwen3_f32.gguf', 'qwen3'], ['chat/hola_chatml.gguf', 'llama']]) {
    const model = join(root, 'tests', 'data', file);
    const args = ['translate', '--model', model, '--text', 'Hello.'];
    const w = cli(args), n = nativeCliRun(args);
    const want = `atento: ${model} is a '${arch}' model; translate needs a marian model\n`;
    assert.equal(w.stderr, want);
    assert.equal(n.stderr, want);
    assert.equal(w.code, 1);
    assert.equal(n.code, 1);
    assert.equal(n.stdout, '');
  }
});

/** Does a list of ids repeat an n-gram? */
function repeatsNgram(ids, n) {
  const seen = new Set();
  for (let i = 0; i + n <= ids.length; i++) {
    const k = ids.slice(i, i + n).join(',');
    if (seen.has(k)) return true;
    seen.add(k);
  }
  return false;
}

test('repeat guard: --no-repeat-ngram / --no-repeat-span reach the decoder, WASM and native alike', async () => {
  // the random tiny model loops ("HHHH..."): without the guard its outputs repeat 3-grams
  const model = join(data, 'tiny.f32.gguf');
  const text = 'I see a cat. Tom is here. Where is the library?';
  const { nativeCliRun } = await import('./helpers.mjs');
  const probe = nativeCliRun(['translate', '--help']);
  for (const beam of ['1', '4']) {
    const run = (extra) => {
      const r = cli(['translate', '--model', model, '--to', 'es', '--beam', beam, '--json', ...extra, '--text', text]);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout).translations.map((t) => t.tokens.filter((id) => id !== 1));
    };
    const off = run(['--no-repeat-ngram', '0', '--no-repeat-span', '0']);
    const on = run(['--no-repeat-ngram', '3']);
    assert.ok(off.some((ids) => repeatsNgram(ids, 3)), `beam ${beam}: the fixture no longer loops`);
    assert.ok(!on.some((ids) => repeatsNgram(ids, 3)), `beam ${beam}: a 3-gram repeats with --no-repeat-ngram 3`);
    if (probe && probe.code === 0) {
      const n = nativeCliRun(['translate', '--model', model, '--to', 'es', '--beam', beam, '--json', '--no-repeat-ngram', '3', '--text', text]);
      assert.equal(n.code, 0, n.stderr);
      assert.deepEqual(JSON.parse(n.stdout).translations.map((t) => t.tokens.filter((id) => id !== 1)), on);
    }
  }
});
