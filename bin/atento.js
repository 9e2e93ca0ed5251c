#!/usr/bin/env node
// atento — the command-line interface of the npm package. It runs the
// WebAssembly build (dist/atento.wasm), the same code a browser runs.
//
//   atento <command> [flags]      commands: js/cli/<command>.js, loaded by name
//   atento <command> --help
//
// Every failure is one line on stderr and a non-zero exit: 2 for bad usage,
// 1 for anything else (missing or damaged file, out of memory, ...).
// ATENTO_DEBUG=1 prints the stack of unexpected errors too.
import { readdirSync, readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';

// Node 20 and 21 have relaxed SIMD behind a flag (on by default from Node 22):
// set before any WebAssembly is compiled, so that the relaxed-SIMD build
// (docs/simd.md) can run where js/core.js's probe finds its 8-bit multiply
// exact. ATENTO_SIMD=simd128 keeps the SIMD128 build.
if (Number(process.versions.node.split('.')[0]) < 22 && process.env.ATENTO_SIMD !== 'simd128') {
  setFlagsFromString('--experimental-wasm-relaxed-simd');
}

const cliDir = new URL('../js/cli/', import.meta.url);

function commands() {
  try {
    return readdirSync(cliDir)
      .filter((f) => /^[a-z][a-z0-9-]*\.js$/.test(f))
      .map((f) => f.slice(0, -3))
      .sort();
  } catch {
    return [];
  }
}

async function usage() {
  const lines = ['usage: atento <command> [flags]', '', 'commands:'];
  for (const c of commands()) {
    let summary = '';
    try {
      summary = (await import(new URL(`${c}.js`, cliDir))).summary || '';
    } catch {
      summary = '(cannot be loaded)';
    }
    lines.push(`  ${c.padEnd(10)} ${summary}`);
  }
  lines.push('', 'atento <command> --help shows the flags of a command.');
  return lines.join('\n');
}

function oneLine(s) {
  return String(s).replace(/\s*\n\s*/g, ' ').trim();
}

// The offset of the first byte that does not belong to a valid UTF-8
// character (no overlong forms, surrogates or values past U+10FFFF), or the
// length; as the native CLI's utf8_first_invalid.
function utf8FirstInvalid(s) {
  for (let i = 0; i < s.length;) {
    const c = s[i];
    const k = c < 0x80 ? 0 : (c & 0xe0) === 0xc0 ? 1 : (c & 0xf0) === 0xe0 ? 2 : (c & 0xf8) === 0xf0 ? 3 : -1;
    if (k < 0 || s.length - i - 1 < k) return i;
    let cp = k === 0 ? c : c & (0x3f >> k);
    for (let j = 1; j <= k; j++) {
      if ((s[i + j] & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (s[i + j] & 0x3f);
    }
    if ((k === 1 && cp < 0x80) || (k === 2 && cp < 0x800) || (k === 3 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += k + 1;
  }
  return s.length;
}

// Node hands process.argv over already decoded, invalid UTF-8 replaced by
// U+FFFD, so a bad --prompt would go on silently changed. The raw bytes are
// in /proc/self/cmdline (Linux): every argument must be valid UTF-8, with the
// same message as the native CLI. Elsewhere the check is skipped.
function checkArgsUtf8(argv) {
  let raw;
  try {
    raw = readFileSync('/proc/self/cmdline');
  } catch {
    return;
  }
  const parts = [];
  for (let i = 0, j; i < raw.length; i = j + 1) {
    j = raw.indexOf(0, i);
    if (j < 0) j = raw.length;
    parts.push(raw.subarray(i, j));
  }
  if (parts.length < argv.length) return;
  const args = parts.slice(parts.length - argv.length); // node [options] script, then ours
  args.forEach((a, i) => {
    const bad = utf8FirstInvalid(a);
    if (bad === a.length) return;
    const eq = a.indexOf(0x3d);
    if (a[0] === 0x2d && a[1] === 0x2d && eq > 0 && eq < bad) {
      throw new Error(`${a.subarray(0, eq).toString()}: invalid UTF-8 at byte ${bad - eq - 1}`);
    }
    if (i > 0 && argv[i - 1].startsWith('--') && !argv[i - 1].includes('=')) throw new Error(`${argv[i - 1]}: invalid UTF-8 at byte ${bad}`);
    throw new Error(`argument ${i + 1}: invalid UTF-8 at byte ${bad}`);
  });
}

async function main(argv) {
  checkArgsUtf8(argv);
  // --threads N applies to every command: taken out before the command parses its flags.
  let threads = 1;
  for (let i = 0; i < argv.length; i++) {
    const m = /^--threads(?:=(.*))?$/.exec(argv[i]);
    if (!m) continue;
    const v = m[1] ?? argv[i + 1];
    if (v === undefined) throw new UsageErrorLike('--threads needs a value');
    if (!/^\d+$/.test(v) || +v < 1 || +v > 16) throw new UsageErrorLike(`--threads must be 1..16, got '${v}'`);
    threads = +v;
    argv = [...argv.slice(0, i), ...argv.slice(i + (m[1] === undefined ? 2 : 1))];
    i--;
  }
  const cmd = argv[0];
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write((await usage()) + '\n');
    return cmd === undefined ? 2 : 0;
  }
  if (cmd === '--version' || cmd === '-v') {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    process.stdout.write(`atento ${pkg.version}\n`);
    return 0;
  }
  if (!/^[a-z][a-z0-9-]*$/.test(cmd) || !commands().includes(cmd)) {
    throw new UsageErrorLike(`unknown command '${cmd}' (commands: ${commands().join(', ')})`);
  }
  const mod = await import(new URL(`${cmd}.js`, cliDir));
  const common = await import(new URL('_common.js', cliDir));
  const rest = argv.slice(1);
  common.setThreads(threads);
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(common.helpText(cmd, mod) + '\n');
    return 0;
  }
  // A command with positional arguments (translate TEXT) parses its own argv.
  const opts = mod.parseArgs ? mod.parseArgs(rest) : common.parseFlags(cmd, rest, mod.flags || {});
  const code = await mod.run(opts, { cmd });
  return typeof code === 'number' ? code : 0;
}

class UsageErrorLike extends Error {
  constructor(m) {
    super(m);
    this.name = 'UsageError';
  }
}

// Piping into `head` closes stdout early: that is not an error.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    const usageErr = e && e.name === 'UsageError';
    let msg = e && e.message ? e.message : String(e);
    if (e && !usageErr && !e.code && !(e instanceof RangeError && /memory/i.test(msg)) && !/invalid UTF-8 at byte/.test(msg)) {
      // Not one of ours: a bug, but still one line unless debugging.
      msg = `internal error: ${msg}`;
    }
    if (e instanceof RangeError && /memory|allocation/i.test(msg)) msg = `out of memory: ${msg}`;
    process.stderr.write(`atento: ${oneLine(msg)}\n`);
    if (process.env.ATENTO_DEBUG && e && e.stack) process.stderr.write(e.stack + '\n');
    process.exitCode = usageErr ? 2 : 1;
  },
);
