#!/usr/bin/env node
// race.mjs — atento against llama.cpp's own WebAssembly build (@wllama/wllama
// 3.8.1, a pinned devDependency) in the same headless Chromium, on the same
// GGUF files, in interleaved rounds, at 1 and N threads; prints the ratios.
//
//   node bench/race/race.mjs [--types q8_0,q4_0] [--threads 1,2] [--reps 3]
//        [--prompt 128] [--gen 128] [--out build/bench/race/results.jsonl]
//        [--simd auto|simd128] [--shape smollm2-135m|qwen2.5-0.5b|llama3.2-1b]
//
// atento runs its relaxed-SIMD build where Chromium has relaxed SIMD (--simd
// auto, the default) or its SIMD128 build (--simd simd128); the build that ran
// is printed and recorded in each row (docs/simd.md).
//
// Models: bench/make_bench_models.py's SmolLM2-135M-shaped random-weight
// files (build/bench/smollm2-135m-shape-TYPE.gguf; bench/race/run.sh makes
// them). Both engines read one copy of each in which the ordinary and byte
// tokens are marked USER_DEFINED (same-length header patch, weights
// untouched): wllama 3 takes only text prompts, and llama.cpp matches
// USER_DEFINED and CONTROL token texts verbatim, so the prompt given to
// wllama as text is exactly the ids given to atento; it also keeps every
// generated piece printable (a lone byte token >= 0x80 makes wllama's JSON
// output throw). The prompt is BOS + the file's padding control tokens.
//
// One page (bin/serve.js: cross-origin isolated, so both may use threads)
// holds, per model, one loaded instance per (engine, threads). A round runs
// each of them once, the order rotated from round to round, so that load
// changes on a shared machine hit them alike; after a warm-up request each.
// Speeds are each engine's own clock of its phases: llama.cpp's timings
// (prompt_per_second, predicted_per_second) and atento's stats (prefillMs,
// tokensPerSecond; through its worker, as an application gets them).
// The CPU time of the whole browser (every process, every thread) during
// each request is read from /proc: cpu/wall says how many cores it got.
import { readFileSync, readSync, mkdirSync, existsSync, copyFileSync, openSync, writeSync, closeSync, appendFileSync, readdirSync, renameSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createStaticServer } from '../../bin/serve.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const types = opt('types', 'q8_0,q4_0').split(',');
const threadList = opt('threads', '1,2').split(',').map(Number);
const simdWanted = opt('simd', 'auto');
// the model shape: bench/make_bench_models.py's build/bench/SHAPE-shape-TYPE.gguf
const shape = opt('shape', 'smollm2-135m');
if (!['auto', 'simd128'].includes(simdWanted)) throw new Error(`--simd must be auto or simd128, got '${simdWanted}'`);
let atentoSimd = null; // the build atento ran: 'relaxed' or 'simd128'
const reps = Number(opt('reps', '3'));
const PP = Number(opt('prompt', '128'));
const TG = Number(opt('gen', '128'));
const out = opt('out', join(root, 'build', 'bench', 'race', 'results.jsonl'));
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

// ---- the GGUF header: vocabulary, and the USER_DEFINED copy ---------------------------

function readHeader(path) {
  const fd = openSync(path, 'r');
  const buf = Buffer.alloc(8 << 20);
  const n = readSync(fd, buf, 0, buf.length, 0);
  closeSync(fd);
  let o = 0;
  const need = (k) => { if (o + k > n) throw new Error(`${path}: header longer than ${buf.length} bytes`); };
  const u32 = () => { need(4); const v = buf.readUInt32LE(o); o += 4; return v; };
  const u64 = () => { need(8); const v = Number(buf.readBigUInt64LE(o)); o += 8; return v; };
  const str = () => { const k = u64(); need(k); const s = buf.toString('utf8', o, o + k); o += k; return s; };
  const SIZE = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
  const scalar = (t) => {
    if (t === 8) return str();
    need(SIZE[t]);
    const at = o;
    o += SIZE[t];
    switch (t) {
      case 4: return buf.readUInt32LE(at);
      case 5: return buf.readInt32LE(at);
      case 7: return buf[at] !== 0;
      default: return null; // not needed here
    }
  };
  if (buf.toString('latin1', 0, 4) !== 'GGUF') throw new Error(`${path}: not a GGUF file`);
  o = 8;
  u64(); // tensors
  const nkv = u64();
  const kv = {}, offsets = {};
  for (let i = 0; i < nkv; i++) {
    const key = str();
    const t = u32();
    if (t === 9) {
      const at = u32();
      const count = u64();
      offsets[key] = { at: o, type: at, count };
      const a = new Array(count);
      for (let j = 0; j < count; j++) a[j] = scalar(at);
      kv[key] = a;
    } else kv[key] = scalar(t);
  }
  return { kv, offsets };
}

// A copy whose NORMAL (1) and BYTE (6) tokens are USER_DEFINED (4).
function userDefinedCopy(src, dst) {
  const { kv, offsets } = readHeader(src);
  const tt = offsets['tokenizer.ggml.token_type'];
  if (!tt || tt.type !== 5) throw new Error(`${src}: no INT32 tokenizer.ggml.token_type`);
  const vals = kv['tokenizer.ggml.token_type'];
  const patched = Buffer.alloc(4 * vals.length);
  vals.forEach((v, i) => patched.writeInt32LE(v === 1 || v === 6 ? 4 : v, 4 * i));
  copyFileSync(src, dst + '.tmp');
  const fd = openSync(dst + '.tmp', 'r+');
  writeSync(fd, patched, 0, patched.length, tt.at);
  closeSync(fd);
  renameSync(dst + '.tmp', dst);
}

// The prompt: BOS, then control tokens of the file's padding, as ids and as
// the text that llama.cpp tokenizes back to exactly those ids.
function prompt(kv, n) {
  const toks = kv['tokenizer.ggml.tokens'], ttype = kv['tokenizer.ggml.token_type'];
  const bos = kv['tokenizer.ggml.bos_token_id'];
  const pads = [];
  for (let i = 0; i < toks.length; i++) if (ttype[i] === 3 && /^<\|bench_pad_\d+\|>$/.test(toks[i])) pads.push(i);
  if (pads.length < n) throw new Error('the model has too few padding tokens for the prompt');
  const ids = [bos];
  for (let k = 1; k < n; k++) ids.push(pads[(k * 7919) % pads.length]);
  // llama.cpp adds BOS itself only when the file says so
  const text = ids.slice(kv['tokenizer.ggml.add_bos_token'] === true ? 1 : 0).map((id) => toks[id]).join('');
  return { ids, text };
}

// ---- CPU time of the browser's processes --------------------------------------------

// The browser's processes: `rootPid` and its descendants (stable once the
// engines are loaded: the engines' threads live inside those processes).
function processTree(rootPid) {
  const kids = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let s;
    try { s = readFileSync(`/proc/${d}/stat`, 'utf8'); } catch { continue; }
    const ppid = Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]);
    if (!kids.has(ppid)) kids.set(ppid, []);
    kids.get(ppid).push(Number(d));
  }
  const all = [], stack = [rootPid];
  while (stack.length) {
    const p = stack.pop();
    all.push(p);
    for (const k of kids.get(p) || []) stack.push(k);
  }
  return all;
}

// utime + stime of every thread of those processes, in ticks
function cpuTicks(pids) {
  let sum = 0;
  for (const p of pids) {
    try {
      const f = readFileSync(`/proc/${p}/stat`, 'utf8');
      const v = f.slice(f.lastIndexOf(')') + 2).split(' ');
      sum += Number(v[11]) + Number(v[12]);
    } catch { /* ended */ }
  }
  return sum;
}

// CPU seconds spent in the wall-clock window [a, b] (ms), interpolated
// between samples [[ms, ticks], ...].
function cpuIn(samples, a, b) {
  const at = (t) => {
    if (t <= samples[0][0]) return samples[0][1];
    for (let i = 1; i < samples.length; i++) {
      const [t1, c1] = samples[i], [t0, c0] = samples[i - 1];
      if (t <= t1) return c0 + ((c1 - c0) * (t - t0)) / Math.max(1, t1 - t0);
    }
    return samples[samples.length - 1][1];
  };
  return (at(b) - at(a)) / TICK;
}
const TICK = 100; // USER_HZ

// The browser's main process: the one whose command line carries `tag` and
// whose parent's does not (playwright-core's Browser has no process()).
function browserPid(tag) {
  const has = (pid) => { try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(tag); } catch { return false; } };
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || !has(d)) continue;
    const s = readFileSync(`/proc/${d}/stat`, 'utf8');
    const ppid = s.slice(s.lastIndexOf(')') + 2).split(' ')[1];
    if (!has(ppid)) return Number(d);
  }
  throw new Error('cannot find the browser process');
}

// ---- the race -------------------------------------------------------------------------

const median = (a) => { const s = [...a].sort((x, y) => x - y); return s.length ? s[(s.length - 1) >> 1] : NaN; };

mkdirSync(dirname(out), { recursive: true });
const server = createStaticServer({ root, quiet: true });
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const origin = `http://127.0.0.1:${server.address().port}`;
const { chromium } = await import('playwright-core');
const browser = await chromium.launch({
  executablePath: chromiumPath, headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', `--atento-race=${process.pid}`],
});
const bpid = browserPid(`--atento-race=${process.pid}`);
let pids = [bpid];
const page = await browser.newPage();
page.on('pageerror', (e) => console.error('[pageerror]', e.message));
page.on('console', (m) => { if (m.type() === 'error') console.error('[page]', m.text().slice(0, 300)); });
await page.goto(`${origin}/bench/race/race.html`);
await page.waitForFunction(() => window.raceReady === true, null, { timeout: 60000 });
const info = await page.evaluate(() => window.raceInfo());
console.error(`chromium ${info.userAgent.match(/Chrome\/[\d.]+/)?.[0]}, cross-origin isolated ${info.crossOriginIsolated}, ${info.hardwareConcurrency} cores, libllama ${info.libllama}`);

const table = [];
try {
  for (const type of types) {
    const src = join(root, 'build', 'bench', `${shape}-shape-${type}.gguf`);
    if (!existsSync(src)) throw new Error(`${src} is missing: /usr/bin/python3 bench/make_bench_models.py --shape ${shape} ${type}`);
    const file = join(root, 'build', 'bench', 'race', `${shape}-shape-${type}.ud.gguf`);
    mkdirSync(dirname(file), { recursive: true });
    if (!existsSync(file)) userDefinedCopy(src, file);
    const url = '/' + file.slice(root.length + 1);
    const { kv } = readHeader(file);
    const { ids, text } = prompt(kv, PP);
    const warm = prompt(kv, 16);
    const keys = [];
    for (const n of threadList) {
      for (const kind of ['atento', 'wllama']) {
        const key = `${kind}-${n}`;
        const l = await page.evaluate(([k, kind, url, n, simd]) => window.raceLoad(k, kind, url, n, simd), [key, kind, url, n, simdWanted]);
        if (l.threads !== n) throw new Error(`${kind} asked for ${n} threads, runs ${l.threads}${l.threadsError ? ': ' + l.threadsError : ''}`);
        if (kind === 'atento' && l.simd !== atentoSimd) {
          atentoSimd = l.simd;
          console.error(`atento runs its ${l.simd} build${l.simdError ? ` (relaxed SIMD unavailable: ${l.simdError})` : ''}`);
        }
        await page.evaluate(([k, ids, text]) => window.raceRun(k, ids, text, 8), [key, warm.ids, warm.text, 8]);
        keys.push(key);
      }
    }
    pids = processTree(bpid);
    const runs = new Map(keys.map((k) => [k, []]));
    for (let rep = 0; rep < reps; rep++) {
      const order = keys.map((_, i) => keys[(i + rep) % keys.length]);
      for (const key of order) {
        const samples = [[Date.now(), cpuTicks(pids)]];
        const timer = setInterval(() => samples.push([Date.now(), cpuTicks(pids)]), 50);
        let r;
        try {
          r = await page.evaluate(([k, ids, text, tg]) => window.raceRun(k, ids, text, tg), [key, ids, text, TG]);
        } finally {
          clearInterval(timer);
        }
        samples.push([Date.now(), cpuTicks(pids)]);
        const cpu = cpuIn(samples, r.start, r.end);
        const cpuPrefill = cpuIn(samples, r.start, r.start + r.prefill_ms), cpuDecode = cpuIn(samples, r.end - r.decode_ms, r.end);
        if (r.prompt_n !== PP) throw new Error(`${key}: prompt of ${r.prompt_n} tokens, expected ${PP}`);
        const [engine, threads] = key.split('-');
        const row = { model: `${shape}-shape-${type}`, engine, threads: +threads, ...(engine === 'atento' ? { simd: atentoSimd } : {}), rep, prompt_tokens: r.prompt_n, gen_tokens: r.gen_n,
          prefill_tok_s: +r.prefill_tok_s.toFixed(2), decode_tok_s: +r.decode_tok_s.toFixed(2),
          prefill_tok_per_cpu_s: +(r.prompt_n / cpuPrefill).toFixed(2), decode_tok_per_cpu_s: +(r.gen_n / cpuDecode).toFixed(2),
          wall_s: +(r.wall_ms / 1000).toFixed(2),
          cpu_s: +cpu.toFixed(2), cores_used: +(cpu / (r.wall_ms / 1000)).toFixed(2), load1: +readFileSync('/proc/loadavg', 'utf8').split(' ')[0],
          date: new Date().toISOString() };
        appendFileSync(out, JSON.stringify(row) + '\n');
        console.error(JSON.stringify(row));
        runs.get(key).push(row);
      }
    }
    for (const key of keys) await page.evaluate((k) => window.raceFree(k), key);
    const med = (k, f) => median(runs.get(k).map((x) => x[f]));
    for (const n of threadList) {
      const a = `atento-${n}`, w = `wllama-${n}`;
      table.push({ type, n, a_pp: med(a, 'prefill_tok_s'), a_tg: med(a, 'decode_tok_s'), w_pp: med(w, 'prefill_tok_s'), w_tg: med(w, 'decode_tok_s'),
        a_pp1: med(`atento-${threadList[0]}`, 'prefill_tok_s'), a_tg1: med(`atento-${threadList[0]}`, 'decode_tok_s'),
        a_ppc: med(a, 'prefill_tok_per_cpu_s'), a_tgc: med(a, 'decode_tok_per_cpu_s'),
        w_ppc: med(w, 'prefill_tok_per_cpu_s'), w_tgc: med(w, 'decode_tok_per_cpu_s'),
        cores_a: med(a, 'cores_used'), cores_w: med(w, 'cores_used') });
    }
  }
} finally {
  await browser.close();
  server.close();
}

const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '—');
console.log(`\n${shape} shape, ${PP}-token prompt + ${TG} greedy tokens, median of ${reps} interleaved rounds, headless Chromium (${info.userAgent.match(/Chrome\/[\d.]+/)?.[0]}), atento ${atentoSimd === 'relaxed' ? 'relaxed SIMD' : 'SIMD128'}, load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}\n`);
console.log('| model | threads | atento prefill / decode tok/s | wllama prefill / decode tok/s | atento ÷ wllama prefill / decode | atento vs its 1 thread prefill / decode | cores used atento / wllama |');
console.log('|---|---|---|---|---|---|---|');
for (const r of table)
  console.log(`| ${r.type} | ${r.n} | ${f(r.a_pp)} / ${f(r.a_tg)} | ${f(r.w_pp)} / ${f(r.w_tg)} | ${f(r.a_pp / r.w_pp, 2)}× / ${f(r.a_tg / r.w_tg, 2)}× | ${f(r.a_pp / r.a_pp1, 2)}× / ${f(r.a_tg / r.a_tg1, 2)}× | ${f(r.cores_a, 2)} / ${f(r.cores_w, 2)} |`);
console.log('\nPer CPU-second of the whole browser (every thread, spinning included; on a loaded machine the fairer figure, but it shows the cost of threads, not their gain):\n');
console.log('| model | threads | atento prefill / decode tok per CPU-s | wllama prefill / decode tok per CPU-s | atento ÷ wllama |');
console.log('|---|---|---|---|---|');
for (const r of table)
  console.log(`| ${r.type} | ${r.n} | ${f(r.a_ppc)} / ${f(r.a_tgc)} | ${f(r.w_ppc)} / ${f(r.w_tgc)} | ${f(r.a_ppc / r.w_ppc, 2)}× / ${f(r.a_tgc / r.w_tgc, 2)}× |`);
console.log(`\nraw: ${out}`);
