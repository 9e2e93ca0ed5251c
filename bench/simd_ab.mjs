#!/usr/bin/env node
// simd_ab.mjs — atento's relaxed-SIMD build against its SIMD128 build
// (docs/simd.md), in the browser tests' headless Chromium, on the same model,
// in one page, alternating: prefill and decode tokens/s of each build at 1
// thread (the single-thread modules) and N threads (the threaded ones).
//
//   node bench/simd_ab.mjs --model build/bench/smollm2-135m-shape-q4_0.gguf
//        [--threads 1,2] [--prompt 128] [--gen 64] [--reps 3]
//
// The runtimes run in the page's main thread through js/core.js (no model
// worker): prefill is one eval of `prompt` fixed pseudo-random ids (as
// `atento bench`), decode `gen` evals of one token each, greedy. One JSON
// line per run, then the medians.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { startServer, launch, root } from '../tests/browser/helpers.mjs';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const model = opt('model', 'build/bench/smollm2-135m-shape-q4_0.gguf');
const threadList = opt('threads', '1,2').split(',').map(Number);
const prompt = Number(opt('prompt', '128'));
const gen = Number(opt('gen', '64'));
const reps = Number(opt('reps', '3'));
readFileSync(model, { flag: 'r' }); // a clear error if it is missing

const srv = await startServer();
const browser = await launch();
const rows = [];
try {
  const page = await browser.context.newPage();
  await page.goto(`${srv.origin}/web/models.json`);
  await page.evaluate(async ({ url, threadList }) => {
    const core = await import('/js/core.js');
    const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
    window.runs = {};
    for (const simd of ['auto', 'simd128']) {
      for (const threads of threadList) {
        const rt = await core.initAtento(undefined, { simd, threads });
        window.runs[`${simd}/${threads}`] = { rt, model: rt.loadModel(bytes) };
      }
    }
  }, { url: '/' + relative(root, model), threadList });
  for (let rep = 0; rep < reps; rep++) {
    for (const threads of threadList) {
      // the order of the two builds alternates from round to round
      for (const simd of rep % 2 ? ['simd128', 'auto'] : ['auto', 'simd128']) {
        const r = await page.evaluate(({ key, prompt, gen }) => {
          const { rt, model } = window.runs[key];
          const V = model.nVocab, lo = Math.min(V - 1, 256);
          const ids = [];
          let x = 12345;
          for (let i = 0; i < prompt; i++) {
            x = (Math.imul(x, 1103515245) + 12345) >>> 0;
            ids.push(lo + ((x >>> 8) % (V - lo)));
          }
          const s = model.newSession(prompt + gen + 1);
          let t = performance.now();
          s.eval(ids);
          const prefillMs = performance.now() - t;
          let logits = s.logits();
          t = performance.now();
          for (let i = 0; i < gen; i++) {
            let best = 0;
            for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
            s.eval([best]);
            logits = s.logits();
          }
          const decodeMs = performance.now() - t;
          s.free();
          return { simd: rt.simd, threads: rt.threads, prefill_tok_s: +(prompt / prefillMs * 1000).toFixed(2), decode_tok_s: +(gen / decodeMs * 1000).toFixed(2) };
        }, { key: `${simd}/${threads}`, prompt, gen });
        const row = { model: model.split('/').pop(), rep, asked: simd, ...r };
        rows.push(row);
        console.log(JSON.stringify(row));
      }
    }
  }
} finally {
  await browser.close();
  await srv.close();
}

const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[s.length >> 1]; };
console.log('\n| model | threads | build | prefill tok/s | decode tok/s |\n|---|---|---|---|---|');
for (const threads of threadList) {
  for (const asked of ['auto', 'simd128']) {
    const r = rows.filter((x) => x.threads === threads && x.asked === asked);
    if (r.length) console.log(`| ${r[0].model} | ${threads} | ${r[0].simd} | ${median(r.map((x) => x.prefill_tok_s))} | ${median(r.map((x) => x.decode_tok_s))} |`);
  }
}
