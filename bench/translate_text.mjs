#!/usr/bin/env node
// translate_text.mjs — words per second translating a whole text with the
// WebAssembly build in Node (the code a browser runs), at several thread
// counts and beam sizes.
//
//   node bench/translate_text.mjs [--text bench/texts/en-5000.txt] [--to es]
//        [--threads 1,2] [--beams 1,4] [--model models/translate-en-es.gguf] [--reps 1]
//
// One JSON line per (threads, beam): source words, seconds, words/s, and
// words per CPU-second (process CPU time, every thread counted: on a shared
// machine the fairer figure). threads 1 runs dist/atento.wasm; more runs
// dist/atento-mt.wasm with that many threads. Runs alternate between the
// settings (rep by rep) so that load changes on the machine hit them alike.
import { readFileSync } from 'node:fs';
import { initAtentoFromFile, loadModelFromFile } from '../js/node.js';
import { translateStream } from '../js/cli/translate.js';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const textPath = opt('text', new URL('./texts/en-5000.txt', import.meta.url).pathname);
const to = opt('to', 'es');
const modelPath = opt('model', new URL('../models/translate-en-es.gguf', import.meta.url).pathname);
const threadList = opt('threads', '1,2').split(',').map(Number);
const beams = opt('beams', '1,4').split(',').map(Number);
const reps = Number(opt('reps', '1'));

const text = readFileSync(textPath, 'utf8');
const words = text.split(/\s+/).filter(Boolean).length;

const runtimes = new Map();
for (const n of threadList) {
  const rt = await initAtentoFromFile(undefined, { threads: n });
  if (rt.threads !== n) throw new Error(`asked for ${n} threads, got ${rt.threads}: ${rt.threadsError}`);
  runtimes.set(n, { rt, model: loadModelFromFile(rt, modelPath) });
}

for (let rep = 0; rep < reps; rep++) {
  for (const beam of beams) {
    for (const n of threadList) {
      const { rt, model } = runtimes.get(n);
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      let sentences = 0, tokens = 0, firstMs = null;
      for (const { sentence } of translateStream(rt, model, text, { beam, to })) {
        if (sentence) {
          sentences++;
          tokens += sentence.tokens.length;
          firstMs ??= performance.now() - t0;
        }
      }
      const s = (performance.now() - t0) / 1000;
      const c = process.cpuUsage(c0);
      const cpu = (c.user + c.system) / 1e6;
      console.log(JSON.stringify({
        text: textPath.split('/').pop(), module: rt.threaded ? 'atento-mt.wasm' : 'atento.wasm', threads: n, beam, rep,
        words, sentences, target_tokens: tokens, seconds: +s.toFixed(2), words_per_s: +(words / s).toFixed(1),
        cpu_seconds: +cpu.toFixed(2), words_per_cpu_s: +(words / cpu).toFixed(1), first_sentence_ms: +firstMs.toFixed(1),
      }));
    }
  }
}
for (const { rt, model } of runtimes.values()) { model.free(); await rt.dispose(); }
