// cli.test.mjs — bin/atento.js: flags, one-line errors, and (with the
// committed test models) every subcommand's output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join, basename } from 'node:path';
import { cli, tempDir, llamaModels, root } from './helpers.mjs';

/** A failure: non-zero exit, exactly one line on stderr, no stack trace. */
function assertOneLineError(r, code, pattern) {
  assert.notEqual(r.code, 0, `expected failure, got exit 0 with ${JSON.stringify(r.stdout.slice(0, 200))}`);
  if (code !== undefined) assert.equal(r.code, code, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l.length);
  assert.equal(lines.length, 1, `stderr should be one line: ${JSON.stringify(r.stderr)}`);
  assert.match(lines[0], /^atento: /);
  assert.doesNotMatch(lines[0], /\bat .*\.js:\d+|internal error/);
  if (pattern) assert.match(lines[0], pattern);
}

const tmp = tempDir();
const garbage = join(tmp, 'garbage.gguf');
writeFileSync(garbage, 'this is not a model\n'.repeat(10));
const empty = join(tmp, 'empty.gguf');
writeFileSync(empty, '');
const headerOnly = join(tmp, 'header.gguf');
writeFileSync(headerOnly, Buffer.from([0x47, 0x47, 0x55, 0x46, 3, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0]));

test('usage: no command, --help, --version, unknown command', () => {
  const r = cli([]);
  assert.equal(r.code, 2);
  assert.match(r.stdout, /usage: atento <command>/);
  for (const c of ['generate', 'score', 'tokenize', 'inspect', 'bench']) assert.match(r.stdout, new RegExp(`\\b${c}\\b`));
  assert.equal(cli(['--help']).code, 0);
  assert.match(cli(['--version']).stdout, /^atento \d+\.\d+\.\d+/);
  assertOneLineError(cli(['frobnicate']), 2, /unknown command 'frobnicate'/);
  assertOneLineError(cli(['../etc/passwd']), 2, /unknown command/);
  assertOneLineError(cli(['_common']), 2, /unknown command/);
});

test('every subcommand has --help with its flags', () => {
  const want = {
    generate: ['--model', '--prompt', '--tokens', '--max-tokens', '--temperature', '--top-k', '--top-p', '--min-p', '--repeat-penalty', '--seed', '--json'],
    score: ['--model', '--tokens', '--text', '--json'],
    tokenize: ['--model', '--text', '--ids', '--json'],
    inspect: ['--model'],
    bench: ['--model', '--prompt-tokens', '--gen-tokens'],
  };
  for (const [cmd, flags] of Object.entries(want)) {
    const r = cli([cmd, '--help']);
    assert.equal(r.code, 0, r.stderr);
    for (const f of flags) assert.ok(r.stdout.includes(f), `${cmd} --help lacks ${f}`);
  }
});

test('bad flags: one-line errors, exit 2', () => {
  const m = ['--model', garbage];
  assertOneLineError(cli(['generate', '--prompt', 'hi']), 2, /--model is required/);
  assertOneLineError(cli(['generate', ...m]), 2, /exactly one of --prompt or --tokens/);
  assertOneLineError(cli(['generate', ...m, '--prompt', 'a', '--tokens', '1']), 2, /exactly one/);
  assertOneLineError(cli(['generate', ...m, '--prompt', '']), 2, /--prompt is empty/);
  assertOneLineError(cli(['generate', ...m, '--prompt', 'hi', '--bogus']), 2, /unknown flag --bogus/);
  assertOneLineError(cli(['generate', ...m, '--prompt', 'hi', '--max-tokens']), 2, /--max-tokens needs a value/);
  assertOneLineError(cli(['generate', ...m, '--prompt', 'hi', '--max-tokens', 'lots']), 2, /--max-tokens must be an integer from 1 to 1048576, got 'lots'/);
  assertOneLineError(cli(['generate', ...m, '--prompt', 'hi', '--max-tokens', '-3']), 2, /--max-tokens must be an integer from 1 to 1048576, got '-3'/);
  assertOneLineError(cli(['generate', ...m, '--prompt', 'hi', '--temperature', 'hot']), 2, /--temperature must be a number from 0 to 100, got 'hot'/);
  assertOneLineError(cli(['generate', ...m, '--prompt', 'hi', '--top-p', '1.5']), 2, /--top-p must be a number from 0 to 1, got '1.5'/);
  assertOneLineError(cli(['generate', ...m, '--prompt', 'hi', '--seed', '1.5']), 2, /--seed must be an integer from 0 to 9007199254740991, got '1.5'/);
  assertOneLineError(cli(['generate', ...m, '--tokens', '1,,2']), 2, /--tokens: expected comma-separated token ids/);
  assertOneLineError(cli(['generate', ...m, '--tokens', '1,-2']), 2, /--tokens/);
  assertOneLineError(cli(['generate', ...m, '--tokens', '']), 2, /--tokens/);
  assertOneLineError(cli(['generate', ...m, '--tokens', '99999999999']), 2, /too large/);
  assertOneLineError(cli(['generate', ...m, '--prompt', 'a', '--prompt', 'b']), 2, /given twice/);
  assertOneLineError(cli(['generate', ...m, 'stray']), 2, /unexpected argument 'stray'/);
  assertOneLineError(cli(['generate', ...m, '--json=maybe', '--prompt', 'x']), 2, /--json takes no value/);
  assertOneLineError(cli(['score', ...m]), 2, /exactly one of --tokens or --text/);
  assertOneLineError(cli(['score', ...m, '--text', '']), 2, /--text is empty/);
  assertOneLineError(cli(['tokenize', ...m]), 2, /exactly one of --text or --ids/);
  assertOneLineError(cli(['bench', ...m, '--prompt-tokens', '0']), 2, /--prompt-tokens must be an integer from 1 to 1048576, got '0'/);
});

test('missing, unreadable and damaged model files: one-line errors, exit 1', () => {
  for (const cmd of [['generate', '--prompt', 'hi'], ['score', '--text', 'hi'], ['tokenize', '--text', 'hi'], ['inspect'], ['bench']]) {
    assertOneLineError(cli([cmd[0], '--model', join(tmp, 'nope.gguf'), ...cmd.slice(1)]), 1, /cannot open model .*nope\.gguf.*no such file/);
  }
  assertOneLineError(cli(['inspect', '--model', tmp]), 1, /is a directory/);
  assertOneLineError(cli(['inspect', '--model', garbage]), 1, /garbage\.gguf/);
  assertOneLineError(cli(['inspect', '--model', empty]), 1, /empty\.gguf/);
  assertOneLineError(cli(['inspect', '--model', headerOnly]), 1, /header\.gguf/);
  assertOneLineError(cli(['generate', '--model', garbage, '--prompt', 'hi']), 1);
});

test('a missing atento.wasm is reported with the build command', () => {
  const r = cli(['inspect', '--model', garbage], { env: { ...process.env, ATENTO_WASM: join(tmp, 'none.wasm') } });
  assertOneLineError(r, 1, /build\.sh/);
});

// The CLI is a thin layer: three models (float llama, qwen2, quantized) are
// enough here; tests/js/core.test.mjs covers every committed model.
const some = llamaModels().filter((p) => /(llama_f32|qwen2_f32|llama_q8_0)\.gguf$/.test(p));
for (const path of some.length ? some : llamaModels()) {
  const name = basename(path);
  const bytes = readFileSync(path);

  test(`${name}: truncated and corrupted copies fail with one line`, () => {
    for (const n of [8, 24, 100, Math.floor(bytes.length / 2), bytes.length - 1]) {
      const p = join(tmp, `trunc-${n}.gguf`);
      writeFileSync(p, bytes.subarray(0, n));
      assertOneLineError(cli(['inspect', '--model', p]), 1, new RegExp(`trunc-${n}\\.gguf`));
    }
  });

  test(`${name}: tokenize --json, and --ids back to the text`, () => {
    const r = cli(['tokenize', '--model', path, '--text', 'Hello world, how are you?', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.ok(Array.isArray(j.ids) && Array.isArray(j.pieces) && j.ids.length === j.pieces.length && j.ids.length > 0);
    const nb = JSON.parse(cli(['tokenize', '--model', path, '--text', 'Hello world, how are you?', '--json', '--no-bos']).stdout);
    const back = cli(['tokenize', '--model', path, '--ids', nb.ids.join(',')]);
    assert.equal(back.code, 0, back.stderr);
    assert.equal(back.stdout, 'Hello world, how are you?\n');
    const plain = cli(['tokenize', '--model', path, '--text', 'Hello']);
    assert.equal(plain.code, 0);
    assertOneLineError(cli(['tokenize', '--model', path, '--ids', '999999999']), 2, /out of range/);
  });

  test(`${name}: score --json gives n-1 log-probs and their perplexity`, () => {
    const r = cli(['score', '--model', path, '--tokens', '1,20,30,40,50,60', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(j).sort(), ['logprobs', 'perplexity']);
    assert.equal(j.logprobs.length, 5);
    for (const v of j.logprobs) assert.ok(v <= 0 && Number.isFinite(v));
    const ppl = Math.exp(-j.logprobs.reduce((a, b) => a + b, 0) / j.logprobs.length);
    assert.ok(Math.abs(ppl - j.perplexity) < 1e-6 * ppl);
    const t = cli(['score', '--model', path, '--text', 'The cat sat on the mat.']);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /perplexity: \d/);
    assertOneLineError(cli(['score', '--model', path, '--tokens', '5']), 2, /at least 2 tokens/);
  });

  test(`${name}: generate streams text and --json matches it`, () => {
    const args = ['generate', '--model', path, '--prompt', 'Once upon a time', '--max-tokens', '12', '--temperature', '0'];
    const j = cli([...args, '--json']);
    assert.equal(j.code, 0, j.stderr);
    const o = JSON.parse(j.stdout);
    assert.ok(Array.isArray(o.tokens) && o.tokens.length <= 12);
    assert.equal(typeof o.text, 'string');
    assert.ok(o.prompt_tokens > 0);
    assert.equal(typeof o.timings, 'object');
    const s = cli(args);
    assert.equal(s.code, 0, s.stderr);
    assert.equal(s.stdout, o.text + '\n');
    // --tokens takes ids as given: the tokenizer's ids (BOS included) give the same run.
    const ids = JSON.parse(cli(['tokenize', '--model', path, '--text', 'Once upon a time', '--json']).stdout).ids;
    const k = JSON.parse(cli(['generate', '--model', path, '--tokens', ids.join(','), '--max-tokens', '12', '--temperature', '0', '--json']).stdout);
    assert.equal(k.prompt_tokens, ids.length);
    assert.deepEqual(k.tokens, o.tokens);
    // and nothing is added to them
    const one = JSON.parse(cli(['generate', '--model', path, '--tokens', String(ids[ids.length - 1]), '--max-tokens', '3', '--json']).stdout);
    assert.equal(one.prompt_tokens, 1);
    // seeded sampling is reproducible from the command line
    const a = cli([...args.slice(0, -2), '--temperature', '0.9', '--seed', '11', '--json']);
    const b = cli([...args.slice(0, -2), '--temperature', '0.9', '--seed', '11', '--json']);
    assert.deepEqual(JSON.parse(a.stdout).tokens, JSON.parse(b.stdout).tokens);
    assertOneLineError(cli(['generate', '--model', path, '--tokens', '99999999']), 2, /out of range/);
    assertOneLineError(cli(['generate', '--model', path, '--prompt', 'word '.repeat(5000)]), 1, /more than the context/);
  });

  test(`${name}: inspect and bench`, () => {
    const r = cli(['inspect', '--model', path]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /llama|qwen2/);
    assert.match(r.stdout, /chat template/);
    const j = cli(['inspect', '--model', path, '--json']);
    assert.equal(j.code, 0, j.stderr);
    assert.equal(JSON.parse(j.stdout).file_bytes, bytes.length);
    const b = cli(['bench', '--model', path, '--prompt-tokens', '8', '--gen-tokens', '4', '--json']);
    assert.equal(b.code, 0, b.stderr);
    const bj = JSON.parse(b.stdout);
    assert.ok(bj.prefill_tokens_per_s > 0 && bj.decode_tokens_per_s > 0);
    assert.ok(bj.wasm_memory_bytes >= bytes.length && bj.peak_rss_bytes > 0);
    const t = cli(['bench', '--model', path, '--prompt-tokens', '8', '--gen-tokens', '4']);
    assert.match(t.stdout, /prefill: [\d.]+ tokens\/s/);
    assert.match(t.stdout, /decode: +[\d.]+ tokens\/s/);
  });
}

const marian = join(root, 'models', 'translate-en-es.gguf');
test('score on a translation model: log p(--text | --source)', { skip: !existsSync(marian) && 'no shipped translation model' }, () => {
  const good = cli(['score', '--model', marian, '--source', 'I am hungry.', '--text', 'Tengo hambre.', '--json']);
  assert.equal(good.code, 0, good.stderr);
  const g = JSON.parse(good.stdout);
  assert.deepEqual(Object.keys(g).sort(), ['logprobs', 'perplexity']);
  const bad = JSON.parse(cli(['score', '--model', marian, '--source', 'I am hungry.', '--text', 'El perro come pan.', '--json']).stdout);
  assert.ok(g.perplexity < bad.perplexity, `${g.perplexity} vs ${bad.perplexity}`);
  assertOneLineError(cli(['score', '--model', marian, '--text', 'Tengo hambre.']), 2, /give both/);
  assertOneLineError(cli(['score', '--model', llamaModels()[0] ?? marian, '--text', 'a b', '--source', 'x']), 2, /translation models/);
});
