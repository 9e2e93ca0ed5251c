// cpuprofile_top.mjs — self time per function of a V8 .cpuprofile (node
// --cpu-prof), largest first. WebAssembly functions carry their C names when
// the module was linked with --profiling-funcs (bench/profile.sh does).
//   node bench/cpuprofile_top.mjs FILE.cpuprofile [top=30]
import { readFileSync } from 'node:fs';

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/cpuprofile_top.mjs FILE.cpuprofile [top=30]');
  process.exit(2);
}
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = prof.timeDeltas;
let total = 0;
for (let i = 0; i < prof.samples.length; i++) {
  const n = byId.get(prof.samples[i]);
  const us = dt[i] ?? 0;
  const name = n.callFrame.functionName || `(anonymous ${n.callFrame.url.split('/').pop()})`;
  self.set(name, (self.get(name) ?? 0) + us);
  total += us;
}
const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(topArg ?? 30));
console.log(`total ${(total / 1e3).toFixed(0)} ms sampled`);
for (const [name, us] of rows) console.log(`${((100 * us) / total).toFixed(2).padStart(6)}%  ${(us / 1e3).toFixed(1).padStart(8)} ms  ${name}`);
