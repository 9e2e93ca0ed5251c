// atento inspect: what a model file holds.
import { loadModelFile, pretokenizerFlag, out, mib } from './_common.js';

export const summary = 'architecture, hyper-parameters, tensors, tokenizer and chat template of a model';

export const flags = {
  ...pretokenizerFlag,
  model: { type: 'path', required: true, value: 'M.gguf', help: 'the model' },
  json: { type: 'bool', help: 'print the model description as JSON' },
};

export async function run(o) {
  const { model, fileSize } = await loadModelFile(o.model, { allowUnknownPretokenizer: o.allowUnknownPretokenizer });
  const info = model.info();
  const template = model.chatTemplate();
  if (o.json) {
    await out(JSON.stringify({ file: o.model, file_bytes: fileSize, ...info, chat_template: template }, null, 2) + '\n');
    model.free();
    return 0;
  }
  const lines = [`file: ${o.model} (${mib(fileSize)})`];
  const tables = [];
  const walk = (obj, prefix) => {
    for (const [k, v] of Object.entries(obj)) {
      if (k === 'chat_template') continue;
      if (Array.isArray(v) && v.length && typeof v[0] === 'object' && v[0] !== null) tables.push([prefix + k, v]);
      else if (v !== null && typeof v === 'object' && !Array.isArray(v)) walk(v, `${prefix}${k}.`);
      else lines.push(`${prefix}${k}: ${Array.isArray(v) ? v.join(', ') : v}`);
    }
  };
  walk(info, '');
  for (const [name, rows] of tables) {
    // A table such as the tensors: one row per object, with a summary by type.
    const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
    lines.push('', `${name} (${rows.length}):`);
    const cells = rows.map((r) => cols.map((c) => (Array.isArray(r[c]) ? r[c].join('x') : String(r[c] ?? ''))));
    const w = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
    lines.push('  ' + cols.map((c, i) => c.padEnd(w[i])).join('  '));
    for (const r of cells) lines.push(('  ' + r.map((s, i) => s.padEnd(w[i])).join('  ')).trimEnd());
    if (cols.includes('type')) {
      const byType = new Map();
      for (const r of rows) {
        const t = byType.get(r.type) || { n: 0, bytes: 0 };
        t.n++;
        t.bytes += Number(r.bytes ?? r.size ?? 0);
        byType.set(r.type, t);
      }
      lines.push('  by type: ' + [...byType].map(([t, v]) => `${t} ${v.n}${v.bytes ? ' (' + mib(v.bytes) + ')' : ''}`).join(', '));
    }
  }
  lines.push('', template ? `chat template:\n${template}` : 'chat template: none');
  await out(lines.join('\n') + '\n');
  model.free();
  return 0;
}
