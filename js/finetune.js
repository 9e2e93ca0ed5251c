// finetune.js — fine-tuning a translation model over the WASM exports
// (atento.h, fine-tuning section; docs/training.md). Browser-safe (no Node
// modules): used by the CLI (js/cli/finetune.js) and the worker (js/worker.js,
// Model.finetune in js/index.js).

/**
 * Pairs of a TSV text: [{source, target, line}]; throws a one-line error
 * naming the line for anything but two tab-separated columns.
 */
export function parseTsv(text, name = 'pairs') {
  const pairs = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i].replace(/\r$/, '');
    if (l.startsWith('#') || /^[ \t]*$/.test(l)) continue;
    const cols = l.split('\t');
    if (cols.length !== 2) {
      throw Object.assign(new Error(`${name}:${i + 1}: expected source<TAB>target, found ${cols.length} column${cols.length === 1 ? '' : 's'}`), { code: 'E_INPUT' });
    }
    pairs.push({ source: cols[0], target: cols[1], line: i + 1 });
  }
  return pairs;
}

/**
 * Fine-tune over the WASM exports (atento.h, fine-tuning section). Yields
 * {step, steps, loss} after each optimizer step; returns (as the generator's
 * value) {bytes: Uint8Array (the new GGUF), info}. pairs: [{source, target,
 * line?}]; replay: source sentences. Errors name the pair (its line when known).
 */
export function* finetuneStream(rt, model, pairs, { to = null, steps = 0, lr = 0, seed = 1, replay = [], name = 'pairs' } = {}) {
  const [lp] = to ? rt.putString(to) : [0];
  const f = rt.fn('atn_finetune_new')(model._p(), lp, steps, lr, seed >>> 0) >>> 0;
  if (lp) rt.free(lp);
  if (!f) rt.fail('E_FINETUNE', 'starting the fine-tuning');
  const lossp = rt.malloc(8);
  try {
    pairs.forEach((p, i) => {
      const [sp, sn] = rt.putString(p.source);
      const [tp, tn] = rt.putString(p.target);
      const rc = rt.fn('atn_finetune_add_pair')(f, sp, sn, tp, tn);
      rt.free(sp);
      rt.free(tp);
      if (rc < 0) {
        const msg = rt.lastError().replace(/^finetune: pair \d+: /, '');
        const where = p.line ? `${name}:${p.line}` : `pair ${i + 1}`;
        throw Object.assign(new Error(`${where}: ${msg}`), { code: 'E_INPUT' });
      }
    });
    for (const s of replay) {
      const [sp, sn] = rt.putString(s);
      const rc = rt.fn('atn_finetune_add_replay')(f, sp, sn);
      rt.free(sp);
      if (rc < 0) rt.fail('E_FINETUNE', 'adding replay sentences');
    }
    for (let step = 1; ; step++) {
      const r = rt.fn('atn_finetune_step')(f, lossp);
      if (r < 0) rt.fail('E_FINETUNE', 'fine-tuning');
      if (r === 0) break;
      const info = JSON.parse(rt.cstring(rt.fn('atn_finetune_info_json')(f)));
      yield { step, steps: info.steps, loss: rt.view().getFloat32(lossp, true) };
    }
    const info = JSON.parse(rt.cstring(rt.fn('atn_finetune_info_json')(f)));
    const p = rt.fn('atn_finetune_save')(f, lossp) >>> 0;
    if (!p) rt.fail('E_FINETUNE', 'saving the model');
    const n = rt.view().getUint32(lossp, true);
    const bytes = rt.u8.slice(p, p + n);
    rt.free(p);
    return { bytes, info };
  } finally {
    rt.free(lossp);
    rt.fn('atn_finetune_free')(f);
  }
}

/** Source sentences of a replay TSV (en<TAB>es): column 1 when translating into English, else 0. */
export function replaySources(text, to) {
  const col = to === 'en' ? 1 : 0;
  return text.split('\n').filter((l) => l.trim() && !l.startsWith('#')).map((l) => l.replace(/\r$/, '').split('\t')[col]).filter(Boolean);
}

