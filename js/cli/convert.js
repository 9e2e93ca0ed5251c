// atento convert: a Hugging Face checkpoint directory -> GGUF.
//   atento convert marian DIR -o out.gguf [--type q8_0|q4_0|f16|f32]
import { writeFileSync } from 'node:fs';
import { UsageError, getRuntime, out, mib } from './_common.js';
import { convertMarian, TYPES } from '../convert/marian.js';

export const summary = 'convert a Hugging Face Marian / OPUS-MT directory to GGUF';

export const flags = {
  arch: { type: 'string', value: 'marian', help: 'the architecture (first argument): marian' },
  dir: { type: 'path', value: 'DIR', help: 'the checkpoint directory (second argument)' },
  o: { type: 'path', value: 'OUT.gguf', help: 'the GGUF file to write (also --out)' },
  out: { type: 'path', value: 'OUT.gguf', help: 'same as -o' },
  type: { type: 'string', default: 'q8_0', value: 'T', help: `weight type: ${Object.keys(TYPES).join(', ')}` },
};

export const examples = [
  'atento convert marian opus-mt-en-es -o opus-mt-en-es.q8_0.gguf',
  'atento convert marian models/train/out/translate/hf -o translate.f32.gguf --type f32',
];

/** Positional form: `marian DIR -o OUT [--type T]` (also --flag=value forms). */
export function parseArgs(argv) {
  const o = { type: 'q8_0' };
  const pos = [];
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let val = null;
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    if (eq > 0) { val = a.slice(eq + 1); a = a.slice(0, eq); }
    const next = () => {
      if (val !== null) return val;
      if (i + 1 >= argv.length) throw new UsageError(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '-o' || a === '--out' || a === '--o') o.out = next();
    else if (a === '--type') o.type = next();
    else if (a === '--arch') o.arch = next();
    else if (a === '--dir') o.dir = next();
    else if (a.startsWith('-')) throw new UsageError(`unknown flag ${a} for 'convert' (see atento convert --help)`);
    else pos.push(a);
  }
  if (pos.length > 2) throw new UsageError(`unexpected argument '${pos[2]}' (usage: atento convert marian DIR -o OUT.gguf)`);
  if (pos[0] !== undefined) o.arch = pos[0];
  if (pos[1] !== undefined) o.dir = pos[1];
  return o;
}

export async function run(o) {
  const outPath = o.out ?? o.o;
  if (!o.arch) throw new UsageError('which architecture? usage: atento convert marian DIR -o OUT.gguf');
  if (o.arch !== 'marian') throw new UsageError(`unknown architecture '${o.arch}' (supported: marian)`);
  if (!o.dir) throw new UsageError('the checkpoint directory is missing: atento convert marian DIR -o OUT.gguf');
  if (!outPath) throw new UsageError('-o OUT.gguf is required');
  if (!(o.type in TYPES)) throw new UsageError(`--type must be one of ${Object.keys(TYPES).join(', ')}, got '${o.type}'`);
  let quantize = null;
  if (o.type !== 'f32') quantize = makeQuantizer(await getRuntime());
  const t0 = performance.now();
  const { bytes, summary: s } = convertMarian(o.dir, { type: o.type, quantize, log: (m) => process.stderr.write(m + '\n') });
  try {
    writeFileSync(outPath, bytes);
  } catch (e) {
    throw new Error(`cannot write ${outPath}: ${e.code === 'ENOENT' ? 'no such directory' : e.message}`);
  }
  await out(`${outPath}: ${mib(bytes.length)} (${s}) in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  return 0;
}

/** The C reference quantizer (atn_quantize in atento.h) over the WASM module, a chunk of rows at a time. */
export function makeQuantizer(rt) {
  const q = rt.fn('atn_quantize');
  return (type, values, rowLen) => {
    const rows = values.length / rowLen;
    const chunkRows = Math.max(1, Math.floor((1 << 20) / rowLen));
    const src = rt.malloc(4 * rowLen * chunkRows);
    const dst = rt.malloc(4 * rowLen * chunkRows + 64);
    const parts = [];
    try {
      for (let r = 0; r < rows; r += chunkRows) {
        const n = Math.min(chunkRows, rows - r) * rowLen;
        new Float32Array(rt.memory.buffer, src, n).set(values.subarray(r * rowLen, r * rowLen + n));
        const bytes = q(type, src, dst, n) >>> 0;
        if (!bytes) rt.fail('E_CONVERT', `quantizing to type ${type}`);
        parts.push(new Uint8Array(rt.memory.buffer, dst, bytes).slice());
      }
    } finally {
      rt.free(src);
      rt.free(dst);
    }
    const total = parts.reduce((a, p) => a + p.length, 0);
    const outb = new Uint8Array(total);
    let off = 0;
    for (const p of parts) { outb.set(p, off); off += p.length; }
    return outb;
  };
}
