// atento finetune: teach a translation model your own sentence pairs.
//   atento finetune [--model M.gguf] --pairs pairs.tsv [--to es|en] -o out.gguf
//                   [--steps N] [--lr X] [--seed S] [--replay FILE|none] [--json]
// pairs.tsv: source<TAB>target per line (blank lines and '#' lines skipped).
// The training runs in the WebAssembly build (src/train/, docs/training.md):
// LoRA adapters on the decoder, merged into an ordinary GGUF file whose
// metadata records the base model's SHA-256, the pairs and the steps.
// The same flags as the native CLI (src/cli/finetune.c).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UsageError, loadModelFile, out } from './_common.js';
import { finetuneStream, parseTsv, replaySources } from '../finetune.js';

export { parseTsv };

export const summary = 'fine-tune a translation (marian) model on your own sentence pairs';

export const flags = {
  model: { type: 'path', value: 'M.gguf', help: 'a marian model (default: the shipped models/translate-en-es.gguf, --to es)' },
  pairs: { type: 'path', value: 'FILE', help: 'source<TAB>target lines (required)' },
  to: { type: 'string', value: 'LANG', help: 'target language tag of a multi-target model: es, en, ...' },
  out: { type: 'path', value: 'OUT.gguf', help: 'where to write the fine-tuned model (also -o; required)' },
  steps: { type: 'int', min: 1, max: 100000, value: 'N', help: 'optimizer steps (default 30)' },
  lr: { type: 'number', value: 'X', help: 'peak learning rate (default 0.003)' },
  seed: { type: 'int', min: 0, max: 4294967295, default: 1, value: 'S', help: 'seed of the adapters\' initialisation' },
  replay: { type: 'path', value: 'FILE', help: 'en<TAB>es sentences whose own translations are replayed ("none": none; default models/finetune-replay.tsv)' },
  json: { type: 'bool', help: 'print {"losses":[...],"info":{...},"train_ms",...} on stdout' },
};

export const examples = [
  'atento finetune --pairs my-words.tsv -o mine.gguf',
  'atento finetune --model translate-en-es.gguf --to en --pairs es-en.tsv -o mine.gguf --steps 60',
];

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
export const defaultModel = here('../../models/translate-en-es.gguf');
export const defaultReplay = here('../../models/finetune-replay.tsv');

/** Flags, with -o as --out. */
export function parseArgs(argv) {
  const o = { seed: 1, json: false };
  const seen = new Set();
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    if (a === '-o') a = '--out';
    if (!a.startsWith('--')) throw new UsageError(`finetune: unexpected argument '${a}' (see atento finetune --help)`);
    let val = null;
    const eq = a.indexOf('=');
    if (eq > 0) { val = a.slice(eq + 1); a = a.slice(0, eq); }
    const name = a.slice(2);
    const spec = flags[name];
    if (!spec) throw new UsageError(`unknown flag --${name} for 'finetune' (see atento finetune --help)`);
    if (seen.has(name)) throw new UsageError(`--${name} given twice`);
    seen.add(name);
    if (spec.type === 'bool') {
      if (val !== null) throw new UsageError(`--${name} takes no value`);
      o[name] = true;
      continue;
    }
    if (val === null) {
      if (i + 1 >= argv.length) throw new UsageError(`--${name} needs a value`);
      val = argv[++i];
    }
    if (spec.type === 'int') {
      if (!/^\d+$/.test(val)) throw new UsageError(`--${name}: expected an integer, got '${val}'`);
      const v = Number(val);
      if (v < spec.min || v > spec.max) throw new UsageError(`--${name} must be ${spec.min}..${spec.max}, got ${v}`);
      o[name] = v;
    } else if (spec.type === 'number') {
      const v = val.trim() === '' ? NaN : Number(val);
      if (!(v > 0 && v <= 1)) throw new UsageError(`--${name} must be a number in (0, 1], got '${val}'`);
      o[name] = v;
    } else o[name] = val;
  }
  if (!o.pairs) throw new UsageError('finetune needs --pairs pairs.tsv');
  if (!o.out) throw new UsageError('finetune needs -o out.gguf');
  return o;
}

function readUtf8(path, what) {
  let bytes;
  try {
    bytes = readFileSync(path);
  } catch {
    throw Object.assign(new Error(`cannot read ${what} '${path}'`), { code: 'E_INPUT' });
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw Object.assign(new Error(`${path} is not valid UTF-8`), { code: 'E_INPUT' });
  }
}

export async function run(o) {
  let modelPath = o.model;
  let to = o.to ?? null;
  if (!modelPath) {
    modelPath = defaultModel;
    if (!existsSync(modelPath)) throw new Error(`the default model ${modelPath} is missing; give --model M.gguf`);
    to ??= 'es';
  }
  if (to !== null && !/^[A-Za-z_]{2,12}$/.test(to)) throw new UsageError(`--to: expected a language code like es or en, got '${to}'`);
  const pairs = parseTsv(readUtf8(o.pairs, 'pairs'), o.pairs);
  if (pairs.length === 0) throw Object.assign(new Error(`${o.pairs}: no pairs (expected source<TAB>target lines)`), { code: 'E_INPUT' });
  let replay = [];
  const replayPath = o.replay ?? defaultReplay;
  if (replayPath !== 'none') {
    if (!existsSync(replayPath)) throw new Error(`cannot read replay sentences '${replayPath}' (--replay none to go without)`);
    replay = replaySources(readUtf8(replayPath, 'replay sentences'), to);
  }
  const { rt, model } = await loadModelFile(modelPath);
  try {
    if (model.arch !== 'marian') throw new Error(`${modelPath} is a '${model.arch}' model; only translation (marian) models can be fine-tuned`);
    const t0 = performance.now();
    const losses = [];
    const it = finetuneStream(rt, model, pairs, { to, steps: o.steps ?? 0, lr: o.lr ?? 0, seed: o.seed, replay, name: o.pairs });
    let r;
    while (!(r = it.next()).done) {
      const { step, steps, loss } = r.value;
      losses.push(loss);
      process.stderr.write(`step ${step}/${steps} loss ${loss.toFixed(4)} (${((performance.now() - t0) / 1e3).toFixed(1)} s)\n`);
    }
    const t1 = performance.now();
    const { bytes, info } = r.value;
    try {
      writeFileSync(o.out, bytes);
    } catch {
      throw new Error(`cannot write '${o.out}'`);
    }
    if (o.json) {
      await out(JSON.stringify({ losses: losses.map((x) => Math.round(x * 1e5) / 1e5), info, train_ms: Math.round(t1 - t0), wasm_memory_bytes: rt.memoryBytes, out: o.out }) + '\n');
    } else process.stderr.write(`wrote ${o.out} (${losses.length} steps, ${((t1 - t0) / 1e3).toFixed(1)} s)\n`);
  } finally {
    model.free();
  }
  return 0;
}
