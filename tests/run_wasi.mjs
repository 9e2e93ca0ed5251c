// run_wasi.mjs — run a WASI (standalone) .wasm under Node's built-in node:wasi.
// Usage: node tests/run_wasi.mjs prog.wasm [args...]
// The repository root is preopened as "." (fd 3) and the file system root as
// "/" (fd 4), so tests can read tests/data/... relative paths (and absolute
// ones). Exits with the program's exit code.
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import process from 'node:process';

const [, , wasmPath, ...args] = process.argv;
if (!wasmPath) {
  console.error('usage: node tests/run_wasi.mjs prog.wasm [args...]');
  process.exit(2);
}
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
const wasi = new WASI({
  version: 'preview1',
  args: [path.basename(wasmPath), ...args],
  env: process.env,
  preopens: { '.': root, '/': '/' }, // fd 3 and fd 4 (see tests/wasi_shim.c)
  returnOnExit: true,
});
let bytes;
try {
  bytes = await readFile(wasmPath);
} catch (e) {
  console.error(`run_wasi: cannot read ${wasmPath}: ${e.message}`);
  process.exit(2);
}
const module = await WebAssembly.compile(bytes);
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
const code = wasi.start(instance);
process.exit(code ?? 0);
