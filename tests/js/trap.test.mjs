// trap.test.mjs — deliberate WebAssembly traps (atn_selftest_trap,
// src/selftest.c) in both modules: `unreachable`, and a stack overflow that
// must trap (the C stack is placed first in memory, --stack-first) rather
// than run into the data above it. After each trap the runtime goes on with
// a fresh instance, frees left over from the discarded one are dropped, and
// the worker loads its model again by itself: only the request that trapped
// fails (E_ABORT), the next one works without an explicit load.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { initAtento, AtentoError } from '../../js/core.js';
import { load } from '../../js/index.js';
import { root } from './helpers.mjs';

const tutor = join(root, 'models', 'tutor-en-es.gguf');
const llama = join(root, 'tests', 'data', 'llama', 'llama_q8_0.gguf');
const mtPath = join(root, 'dist', 'atento-mt.wasm');
const STACK_BYTES = 5 * 2 ** 20; // build.sh: -sTOTAL_STACK=5MB / -z stack-size=5242880, --stack-first
const MODULES = [
  ['single-thread', () => initAtento()],
  ['threaded', () => initAtento(undefined, { threads: 2 }), !existsSync(mtPath) && 'dist/atento-mt.wasm is missing: run ./build.sh'],
];
const TRAPS = [
  [0, 'unreachable', /RuntimeError: unreachable/],
  [1, 'stack overflow', /RuntimeError: memory access out of bounds/],
];

function greedy(model, prompt, n) {
  const s = model.newSession(64);
  const smp = model.newSampler({ temperature: 0, seed: 1 });
  try {
    s.eval(model.tokenize(prompt));
    return [...model.generate(s, smp, { maxTokens: n })].map((p) => p.token);
  } finally {
    smp.free();
    s.free();
  }
}

for (const [label, start, skip] of MODULES) {
  for (const [kind, what, re] of TRAPS) {
    test(`${label} module: a ${what} traps, E_ABORT, and the runtime goes on`, { skip: skip || (!existsSync(llama) && 'no test model'), timeout: 120000 }, async () => {
      const rt = await start();
      try {
        const bytes = readFileSync(llama);
        const m = rt.loadModel(bytes);
        const ref = greedy(m, 'Once upon a time', 6);
        const left = rt.malloc(4096); // still allocated when the instance goes
        // (the pool's workers write to their words in static data while they
        // spin down: stopped first, so that nothing but the trap runs)
        if (label === 'threaded') assert.equal(await rt.setThreads(1), 1);
        // Everything above the C stack (its 5 MiB come first in memory: static
        // data, then the heap with the model) as it was before the trap: the
        // overflow must trap at the bottom of the stack, not run into these.
        const before = rt.u8.slice(STACK_BYTES, Math.min(rt.memoryBytes, STACK_BYTES + 32 * 2 ** 20));
        let changedAt = null;
        rt.onTrap = (memory) => {
          const now = new Uint8Array(memory.buffer, STACK_BYTES, before.length);
          changedAt = -1;
          for (let i = 0; i < before.length; i++) if (now[i] !== before[i]) { changedAt = STACK_BYTES + i; break; }
        };
        const epoch = rt.epoch;
        assert.throws(() => rt.fn('atn_selftest_trap')(kind), (e) => e instanceof AtentoError && e.code === 'E_ABORT' &&
          /trapped in atn_selftest_trap/.test(e.message) && re.test(e.message) && /fresh one started/.test(e.message), what);
        assert.equal(rt.epoch, epoch + 1);
        assert.equal(changedAt, -1, `memory above the stack changed at ${changedAt}`);
        rt.onTrap = null;
        // cleanup of the discarded instance: dropped, not applied to the fresh one
        assert.throws(() => m.tokenize('x'), (e) => e.code === 'E_ABORT' && /load the model again/.test(e.message));
        rt.free(left);
        m.free();
        if (label === 'threaded') assert.equal(await rt.setThreads(2), 2, rt.threadsError);
        const again = rt.loadModel(bytes);
        assert.deepEqual(greedy(again, 'Once upon a time', 6), ref);
        assert.equal(rt.fn('atn_selftest_trap')(7), -1); // an unknown kind does nothing
        again.free();
      } finally {
        await rt.dispose();
      }
    });
  }
}

for (const threads of [1, 2]) {
  test(`worker (${threads} thread${threads > 1 ? 's' : ''}): after a trap it loads its model again, the next request works without load()`, {
    skip: (!existsSync(tutor) && 'no shipped model') || (threads > 1 && !existsSync(mtPath) && 'dist/atento-mt.wasm is missing'), timeout: 180000,
  }, async () => {
    const model = await load(tutor, { threads });
    try {
      const opts = { maxTokens: 6, temperature: 0 };
      const before = await model.generate('hola', opts);
      const chat1 = await model.chat([{ role: 'user', content: 'hola' }], opts);
      for (const trap of ['unreachable', 'stack-overflow']) {
        await assert.rejects(model._request({ type: 'selftest', id: 1e9 + threads * 10 + trap.length, trap }),
          (e) => e instanceof AtentoError && e.code === 'E_ABORT' && /trapped in atn_selftest_trap/.test(e.message) &&
            /the model was loaded again$/.test(e.message), trap);
        const after = await model.generate('hola', opts);
        assert.deepEqual(after.tokens, before.tokens, trap);
        assert.equal(after.text, before.text);
        // the chat cache was in the discarded memory: the turn starts afresh, same reply
        const chat2 = await model.chat([{ role: 'user', content: 'hola' }], opts);
        assert.equal(chat2.text, chat1.text, trap);
      }
      await assert.rejects(model._request({ type: 'selftest', id: 1e9 + 99, trap: 'nonsense' }), (e) => e.code === 'E_ARG');
      assert.equal((await model.generate('hola', opts)).text, before.text);
    } finally {
      await model.dispose();
    }
  });
}
