// simd.test.mjs — the relaxed-SIMD build (docs/simd.md) in Node: the probe's
// answer (Node 20 has relaxed SIMD only behind a flag, which bin/atento.js
// sets), the relaxed modules' imports and exports against their SIMD128
// twins (read from the binary), the simd option and ATENTO_SIMD, and the CLI
// running both builds to the same bits. tests/browser/simd.test.mjs runs them
// in Chromium.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { initAtento, relaxedSimdSupported, simdOf, checkSimd, AtentoError } from '../../js/core.js';
import { load } from '../../js/index.js';
import { root } from './helpers.mjs';

const dist = (f) => join(root, 'dist', f);
const PAIRS = [['atento.wasm', 'atento-relaxed.wasm'], ['atento-mt.wasm', 'atento-mt-relaxed.wasm']];
const missing = PAIRS.flat().filter((f) => !existsSync(dist(f)));
const needModules = missing.length ? `${missing.join(', ')} missing: run ./build.sh (with clang-16, lld-16, llvm-16)` : false;
const nodeMajor = Number(process.versions.node.split('.')[0]);

// ---- a minimal reader of a module's sections ---------------------------------

function reader(bytes) {
  let i = 0;
  const r = {
    get pos() { return i; },
    set pos(p) { i = p; },
    byte: () => bytes[i++],
    u32() {
      let v = 0, shift = 0, b;
      do { b = bytes[i++]; v += (b & 0x7f) * 2 ** shift; shift += 7; } while (b & 0x80);
      return v;
    },
    name() { const n = r.u32(); const s = new TextDecoder().decode(bytes.subarray(i, i + n)); i += n; return s; },
    limits() { const flags = r.byte(); const min = r.u32(); const max = flags & 1 ? r.u32() : null; return { flags, min, max }; },
  };
  return r;
}

/** {imports, exports, custom}: imports as "module.name kind[ limits]", exports as "name kind", custom section names. */
function describe(file) {
  const bytes = readFileSync(file);
  assert.deepEqual([...bytes.subarray(0, 8)], [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0], `${file}: not a wasm module`);
  const r = reader(bytes);
  r.pos = 8;
  const KIND = ['func', 'table', 'memory', 'global', 'tag'];
  const out = { imports: [], exports: [], custom: {} };
  while (r.pos < bytes.length) {
    const id = r.byte();
    const size = r.u32();
    const end = r.pos + size;
    if (id === 0) {
      const name = r.name();
      out.custom[name] = new TextDecoder().decode(bytes.subarray(r.pos, end));
    } else if (id === 2) {
      for (let n = r.u32(); n > 0; n--) {
        const mod = r.name(), name = r.name(), kind = r.byte();
        let desc = '';
        if (kind === 0) r.u32();
        else if (kind === 1) { r.byte(); const l = r.limits(); desc = ` ${JSON.stringify(l)}`; }
        else if (kind === 2) desc = ` ${JSON.stringify(r.limits())}`;
        else if (kind === 3) { r.byte(); r.byte(); }
        out.imports.push(`${mod}.${name} ${KIND[kind]}${desc}`);
      }
    } else if (id === 7) {
      for (let n = r.u32(); n > 0; n--) {
        const name = r.name(), kind = r.byte();
        r.u32();
        out.exports.push(`${name} ${KIND[kind]}`);
      }
    }
    r.pos = end;
  }
  out.imports.sort();
  out.exports.sort();
  return out;
}

// ---- the probe ---------------------------------------------------------------

test('the relaxed SIMD probe answers once, and initAtento picks the build it allows', async () => {
  const yes = relaxedSimdSupported();
  assert.equal(typeof yes, 'boolean');
  assert.equal(relaxedSimdSupported(), yes);
  // Node 20's V8 (11.3) has no relaxed SIMD without a flag.
  if (nodeMajor === 20) assert.equal(yes, false);
  const rt = await initAtento();
  assert.equal(rt.simd, yes && existsSync(dist('atento-relaxed.wasm')) ? 'relaxed' : 'simd128');
  assert.equal(rt.simdError, '');
});

test('Node 20 with --experimental-wasm-relaxed-simd: the probe finds the 8-bit multiply exact', { skip: nodeMajor !== 20 && 'only Node 20 needs the flag' }, () => {
  const code = `import('${new URL('../../js/core.js', import.meta.url).href}').then((m) => console.log(m.relaxedSimdSupported()))`;
  const r = spawnSync(process.execPath, ['--experimental-wasm-relaxed-simd', '-e', code], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'true');
});

// ---- the CLI (bin/atento.js sets the flag on Node 20) ------------------------

const cli = (args, env = {}) => {
  const base = { ...process.env };
  delete base.ATENTO_SIMD;
  return spawnSync(process.execPath, [join(root, 'bin', 'atento.js'), ...args], { encoding: 'utf8', env: { ...base, ...env } });
};
const smallModels = ['q4_0', 'q4_1', 'q5_0', 'q5_1', 'kmix'].map((t) => join(root, 'tests', 'data', 'llama', `llama_${t}.gguf`));

test('the CLI runs the relaxed build where the probe allows, and ATENTO_SIMD=simd128 the SIMD128 one', { skip: needModules }, () => {
  const kernels = (env) => {
    const r = cli(['inspect', '--model', smallModels[0], '--json'], env);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout).kernels;
  };
  assert.equal(kernels({ ATENTO_SIMD: 'simd128' }), 'simd128');
  assert.equal(kernels({}), nodeMajor >= 20 ? 'simd128-relaxed' : 'simd128');
  const bad = cli(['inspect', '--model', smallModels[0]], { ATENTO_SIMD: 'sse' });
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr, 'atento: ATENTO_SIMD must be \'auto\' or \'simd128\', got "sse"\n');
});

// The relaxed kernels form the integer sums and floats of their SIMD128
// twins: the same bits, in a prompt (score) and token by token (greedy
// generation), on one thread and two.
test('the CLI gives the same bits with both builds, for every format with relaxed kernels', { skip: needModules }, () => {
  const text = 'Hola, ¿cómo estás? I am learning Spanish with a tutor, one word at a time.';
  for (const model of smallModels) {
    for (const threads of ['1', '2']) {
      const run = (env) => {
        const score = cli(['score', '--model', model, '--text', text, '--json', '--threads', threads], env);
        const gen = cli(['generate', '--model', model, '--prompt', 'Hola', '--max-tokens', '24', '--temperature', '0', '--json', '--threads', threads], env);
        assert.equal(score.status, 0, score.stderr);
        assert.equal(gen.status, 0, gen.stderr);
        const { tokens, text: out } = JSON.parse(gen.stdout); // not its timings
        return { score: score.stdout, gen: { tokens, out } };
      };
      const [relaxed, plain] = [run({}), run({ ATENTO_SIMD: 'simd128' })];
      assert.ok(JSON.parse(plain.score).logprobs.length > 10, `${model}: ${plain.score}`);
      assert.equal(relaxed.score, plain.score, `${model}, ${threads} thread(s): scores`);
      assert.equal(plain.gen.tokens.length, 24, model);
      assert.deepEqual(relaxed.gen, plain.gen, `${model}, ${threads} thread(s): generation`);
    }
  }
});

// ---- the modules ---------------------------------------------------------------

for (const [plain, relaxed] of PAIRS) {
  test(`${relaxed} imports and exports exactly what ${plain} does, and says it is the relaxed build`, { skip: needModules }, () => {
    const a = describe(dist(plain));
    const b = describe(dist(relaxed));
    assert.deepEqual(b.imports, a.imports);
    assert.deepEqual(b.exports, a.exports);
    assert.ok(a.exports.some((e) => e.startsWith('atn_model_load ')), 'the API is exported');
    assert.equal(b.custom['atento.simd'], 'relaxed');
    assert.equal(a.custom['atento.simd'], undefined);
  });
}

test('simdOf: a SIMD128 module is simd128', { skip: needModules }, () => {
  assert.equal(simdOf(new WebAssembly.Module(readFileSync(dist('atento.wasm')))), 'simd128');
  assert.equal(simdOf({}), 'simd128');
});

// ---- the option ----------------------------------------------------------------

test("simd: 'simd128' loads the SIMD128 build; anything but 'auto' / 'simd128' is E_ARG", async () => {
  const rt = await initAtento(undefined, { simd: 'simd128' });
  assert.equal(rt.simd, 'simd128');
  assert.equal(checkSimd(undefined), 'auto');
  assert.equal(checkSimd('auto'), 'auto');
  const refused = (e) => e instanceof AtentoError && e.code === 'E_ARG';
  for (const [v, shown] of [['bogus', '"bogus"'], ['relaxed', '"relaxed"'], [128, '128']]) {
    const msg = `simd must be 'auto' or 'simd128', got ${shown}`;
    await assert.rejects(initAtento(undefined, { simd: v }), (e) => refused(e) && e.message === msg);
    await assert.rejects(initAtento(undefined, { simd: v, threads: 2 }), (e) => refused(e) && e.message === msg);
    // The npm API refuses it before it starts a worker.
    await assert.rejects(load(new Uint8Array(8), { simd: v }), (e) => refused(e) && e.message === msg);
  }
});
