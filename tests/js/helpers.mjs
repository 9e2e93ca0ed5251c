// helpers.mjs — shared by tests/js/*.test.mjs (not a test file itself).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initAtento } from '../../js/core.js';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const wasmPath = join(root, 'dist', 'atento.wasm');
export const nativeCli = join(root, 'build', 'atento');
export const llamaDir = join(root, 'tests', 'data', 'llama');

let rtPromise = null;
/** One runtime per test file (npm test builds dist/atento.wasm first). */
export function runtime() {
  if (!existsSync(wasmPath)) throw new Error(`${wasmPath} is missing: run ./build.sh first`);
  rtPromise ??= initAtento(readFileSync(wasmPath));
  return rtPromise;
}

/** The f32 test models of the architectures beyond llama/qwen2 (tests/data/arch). */
export function archModels() {
  const dir = join(root, 'tests', 'data', 'arch');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('_f32.gguf')).sort().map((f) => join(dir, f));
}

/** The .gguf test models committed under tests/data/llama/. */
export function llamaModels() {
  if (!existsSync(llamaDir)) return [];
  return readdirSync(llamaDir).filter((f) => f.endsWith('.gguf')).sort().map((f) => join(llamaDir, f));
}

/** Run `node bin/atento.js ...args`; returns {code, stdout, stderr}. */
export function cli(args, opts = {}) {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'atento.js'), ...args], {
    encoding: 'utf8', cwd: root, timeout: 120000, ...opts,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}

/** Run the native CLI; null if it is not built. */
export function nativeCliRun(args, opts = {}) {
  if (!existsSync(nativeCli)) return null;
  const r = spawnSync(nativeCli, args, { encoding: 'utf8', cwd: root, timeout: 120000, ...opts });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}

export function tempDir() {
  return mkdtempSync(join(tmpdir(), 'atento-test-'));
}

/** The names of every ATN_API function declared in src/atento.h. */
export function declaredApi() {
  const h = readFileSync(join(root, 'src', 'atento.h'), 'utf8');
  const names = new Set();
  for (const m of h.matchAll(/ATN_API[^(;]*?\b(atn_[A-Za-z0-9_]+)\s*\(/g)) names.add(m[1]);
  return [...names].sort();
}

/** max |a - b| over two equal-length arrays. */
export function maxAbsDiff(a, b) {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function maxAbs(a) {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}
