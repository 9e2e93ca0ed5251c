// _common.js — what every `atento` subcommand shares (Node only): flag
// parsing, one-line errors, loading the runtime and a model file.
//
// A subcommand is js/cli/<name>.js exporting:
//   export const summary = 'one line for `atento --help`';
//   export const flags = { model: { type: 'path', required: true, help: '...' }, ... };
//   export const examples = ['atento name --model m.gguf ...'];   // optional
//   export const notes = ['a line said after the flags in --help'];  // optional
//   export async function run(opts, ctx) { ... return exitCode (default 0) }
// Flag types: 'string', 'path', 'int', 'number', 'bool', 'ids' (1,2,3),
// 'list' (repeatable string), 'kv-type' (f32 or f16). Each may have `default`, `min`, `max`,
// `required`, `value` (the placeholder shown in help). `opts` has camelCase
// keys (--max-tokens -> opts.maxTokens). Throw UsageError for bad usage
// (exit 2), any other Error for failures (exit 1); bin/atento.js prints the
// message as one line.
import { initAtentoFromFile, loadModelFromFile } from '../node.js';
import { RULES, parseFlagValue, parseKvTypeFlag } from '../options.js';

export class UsageError extends Error {
  constructor(message) {
    super(message);
    this.name = 'UsageError';
  }
}

export const camel = (s) => s.replace(/-([a-z])/g, (_, c) => c.toUpperCase());

function parseValue(name, spec, raw) {
  switch (spec.type) {
    case 'string':
    case 'path':
    case 'list':
      return raw;
    case 'int':
    case 'number': {
      // The options generate/chat/translate share follow js/options.js (the
      // API's and the native CLI's rules and words); other flags their own range.
      const opt = RULES[camel(name)];
      const rule = opt && opt.flag === name ? opt
        : { int: spec.type === 'int', min: spec.min, max: spec.max, flag: name };
      return parseFlagValue(rule, raw, (m) => new UsageError(m));
    }
    case 'ids': return parseIds(name, raw);
    case 'kv-type': return parseKvTypeFlag(raw, (m) => new UsageError(m));
    default: throw new Error(`flag --${name} has unknown type ${spec.type}`);
  }
}

/** "1, 2,3" -> [1, 2, 3]; every id a non-negative 32-bit integer. */
export function parseIds(name, raw) {
  const parts = raw.split(',').map((s) => s.trim());
  if (raw.trim() === '' || parts.some((s) => !/^\d+$/.test(s))) {
    throw new UsageError(`--${name}: expected comma-separated token ids like 1,2,3, got '${raw}'`);
  }
  return parts.map((s) => {
    const v = Number(s);
    if (v >= 2 ** 31) throw new UsageError(`--${name}: token id ${s} is too large`);
    return v;
  });
}

/**
 * Parse argv against a flag table. Accepts `--flag value` and `--flag=value`;
 * bools take no value (`--json`, or `--json=false`). Unknown flags, missing
 * values, stray arguments and repeated flags are errors.
 */
export function parseFlags(cmd, argv, flags) {
  const opts = {};
  const seen = new Set();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--') || a === '--') {
      throw new UsageError(`unexpected argument '${a}' (flags start with --; see atento ${cmd} --help)`);
    }
    const eq = a.indexOf('=');
    const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
    const spec = flags[name];
    if (!spec) throw new UsageError(`unknown flag --${name} for '${cmd}' (see atento ${cmd} --help)`);
    let raw;
    if (spec.type === 'bool') {
      if (eq < 0) raw = 'true';
      else {
        raw = a.slice(eq + 1);
        if (raw !== 'true' && raw !== 'false') throw new UsageError(`--${name} takes no value (or =true/=false)`);
      }
      opts[camel(name)] = raw === 'true';
    } else {
      if (eq >= 0) raw = a.slice(eq + 1);
      else {
        if (i + 1 >= argv.length) throw new UsageError(`--${name} needs a value`);
        raw = argv[++i];
      }
      if (spec.type === 'list') (opts[camel(name)] ??= []).push(raw);
      else {
        if (seen.has(name)) throw new UsageError(`--${name} given twice`);
        opts[camel(name)] = parseValue(name, spec, raw);
      }
    }
    seen.add(name);
  }
  for (const [name, spec] of Object.entries(flags)) {
    const k = camel(name);
    if (opts[k] === undefined) {
      if (spec.required) throw new UsageError(`--${name} is required (see atento ${cmd} --help)`);
      if (spec.default !== undefined) opts[k] = spec.default;
      else if (spec.type === 'bool') opts[k] = false;
      else if (spec.type === 'list') opts[k] = [];
    }
  }
  return opts;
}

/** Exactly one of the named flags must be given. */
export function exactlyOne(cmd, opts, ...names) {
  const given = names.filter((n) => opts[camel(n)] !== undefined);
  if (given.length !== 1) {
    throw new UsageError(`give exactly one of ${names.map((n) => '--' + n).join(' or ')} (see atento ${cmd} --help)`);
  }
  return given[0];
}

export function helpText(cmd, mod) {
  const lines = [`usage: atento ${cmd} [flags]`, '', mod.summary, '', 'flags:'];
  const rows = Object.entries(mod.flags).map(([name, s]) => {
    const v = s.type === 'bool' ? '' : ` ${s.value || s.type.toUpperCase()}`;
    let h = s.help || '';
    if (s.required) h += ' (required)';
    if (s.default !== undefined && s.type !== 'bool') h += ` (default ${s.default})`;
    return [`  --${name}${v}`, h];
  });
  const w = Math.max(...rows.map((r) => r[0].length)) + 2;
  for (const [a, b] of rows) lines.push(a.padEnd(w) + b);
  if (mod.notes?.length) lines.push('', ...mod.notes);
  if (mod.examples?.length) lines.push('', 'examples:', ...mod.examples.map((e) => '  ' + e));
  return lines.join('\n');
}

// ---- runtime and models ---------------------------------------------------------

let runtime = null;
let threads = 1; // --threads N, a flag of every command (bin/atento.js takes it out)

/** Use n threads (1..16) for the runtime that getRuntime() creates. */
export function setThreads(n) { threads = n; }

/** The wasm runtime (dist/atento.wasm, or $ATENTO_WASM; with --threads N > 1 dist/atento-mt.wasm). */
export async function getRuntime() {
  runtime ??= await initAtentoFromFile(undefined, { threads });
  if (threads > 1 && runtime.threads === 1 && runtime.threadsError) process.stderr.write(`atento: running on one thread: ${runtime.threadsError}\n`);
  return runtime;
}

/**
 * Load a .gguf file: its bytes are read straight into wasm memory (one copy,
 * no intermediate buffer) and the model takes them over.
 * @returns {{rt, model, loadMs, fileSize}}
 */
export async function loadModelFile(path, opts = {}) {
  const rt = await getRuntime();
  const t0 = performance.now();
  const model = loadModelFromFile(rt, path, { allowUnknownPretokenizer: !!opts.allowUnknownPretokenizer });
  // What loading tolerated is said on every run.
  for (const w of model.warnings) process.stderr.write(`warning: ${path}: ${w}\n`);
  return { rt, model, loadMs: performance.now() - t0, fileSize: model.fileSize };
}

/** The sampler options given on the command line (undefined: C default). */
export function samplerOpts(o) {
  return {
    temperature: o.temperature,
    topK: o.topK,
    topP: o.topP,
    minP: o.minP,
    repeatPenalty: o.repeatPenalty,
    repeatLastN: o.repeatLastN,
    seed: o.seed,
  };
}

/** --allow-unknown-pretokenizer, for the commands that load a model. */
// --kv-type: the KV cache's element type (generate, chat, score, bench).
export const kvTypeFlag = {
  'kv-type': { type: 'kv-type', value: 'f32|f16', help: "the KV cache's element type: f32 (default) or f16 (half the memory)" },
};

export const pretokenizerFlag = {
  'allow-unknown-pretokenizer': { type: 'bool', help: "a vocabulary whose tokenizer.ggml.pre atento does not know uses GPT-2's rules (a warning says so on every run)" },
};

// Ranges: js/options.js RULES (parseValue checks them; the native CLI has the same).
export const samplerFlags = {
  temperature: { type: 'number', value: 'T', help: 'sampling temperature; 0 = greedy' },
  'top-k': { type: 'int', value: 'K', help: 'keep the K most likely tokens; 0 = off' },
  'top-p': { type: 'number', value: 'P', help: 'nucleus sampling; 1 = off' },
  'min-p': { type: 'number', value: 'P', help: 'drop tokens below P x the top probability; 0 = off' },
  'repeat-penalty': { type: 'number', value: 'R', help: 'penalty for recent tokens; 1 = off' },
  'repeat-last-n': { type: 'int', value: 'N', help: 'how many recent tokens the penalty sees' },
  seed: { type: 'int', value: 'S', help: 'random seed (same seed, same output)' },
};

/** Write to stdout; resolves when flushed (so exit codes follow output). */
export function out(s) {
  return new Promise((resolve) => {
    if (process.stdout.write(s)) resolve();
    else process.stdout.once('drain', resolve);
  });
}

export function mib(n) {
  return `${(n / 2 ** 20).toFixed(1)} MiB`;
}
