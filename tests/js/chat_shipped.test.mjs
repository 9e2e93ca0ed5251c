// The shipped chat model (models/tutor-en-es.gguf, H6) through `atento chat`:
// it answers held-out questions (sentences that never occur in its training
// data; models/train/logs/run1-chat.heldout.q8_0.jsonl) correctly, its chrF
// on a fixed sample of held-out turns meets the target (>= 0.5), multi-turn
// conversations reuse the KV cache, and it is the default model.
// Skipped when the model or the held-out set is not in the checkout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, root } from './helpers.mjs';

const MODEL = join(root, 'models', 'tutor-en-es.gguf');
const HELDOUT = join(root, 'models', 'train', 'logs', 'run1-chat.heldout.q8_0.jsonl');
const RECORDED = join(root, 'models', 'train', 'logs', 'atento-chat.heldout.jsonl');
const skip = !(existsSync(MODEL) && existsSync(HELDOUT)) && 'models/tutor-en-es.gguf or its held-out set is missing';

const rows = skip ? [] : readFileSync(HELDOUT, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

/** The translated part of an answer: between the first and the last '"' (models/train/chat_data.py). */
export function extract(answer) {
  const i = answer.indexOf('"'), j = answer.lastIndexOf('"');
  return i >= 0 && j > i ? answer.slice(i + 1, j) : answer.trim();
}

/** Corpus chrF (sacrebleu 2.x defaults: character 1-6-grams, whitespace removed, beta 2), 0..1. */
export function chrF(hyps, refs, order = 6, beta = 2) {
  const st = new Array(3 * order).fill(0);
  const grams = (s, n) => {
    const m = new Map();
    for (let i = 0; i + n <= s.length; i++) {
      const g = s.slice(i, i + n).join('');
      m.set(g, (m.get(g) || 0) + 1);
    }
    return m;
  };
  for (let k = 0; k < hyps.length; k++) {
    const h = Array.from(hyps[k].replace(/\s+/g, '')), r = Array.from(refs[k].replace(/\s+/g, ''));
    for (let n = 1; n <= order; n++) {
      const hc = grams(h, n), rc = grams(r, n);
      let nh = 0, nr = 0, nm = 0;
      for (const [g, c] of hc) { nh += c; nm += Math.min(c, rc.get(g) || 0); }
      for (const c of rc.values()) nr += c;
      st[3 * (n - 1)] += nh;
      st[3 * (n - 1) + 1] += nr;
      st[3 * (n - 1) + 2] += nm;
    }
  }
  let ap = 0, ar = 0, eff = 0;
  for (let n = 0; n < order; n++) {
    const [nh, nr, nm] = st.slice(3 * n, 3 * n + 3);
    if (nh > 0 && nr > 0) { ap += nm / nh; ar += nm / nr; eff++; }
  }
  if (!eff) return 0;
  ap /= eff; ar /= eff;
  const f = beta * beta;
  return ap + ar === 0 ? 0 : ((1 + f) * ap * ar) / (f * ap + ar);
}

function chatJson(convs, args = []) {
  const input = convs.map((c) => JSON.stringify(c)).join('\n') + '\n';
  const r = cli(['chat', ...args, '--json', '--temperature', '0', '--max-tokens', '80'], { input });
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
  assert.equal(out.length, convs.length);
  return out;
}

test('chrF here equals the model card\'s scorer on the recorded answers', { skip: (skip || !existsSync(RECORDED)) && 'no recorded answers' }, () => {
  const rec = readFileSync(RECORDED, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const scores = JSON.parse(readFileSync(join(root, 'models', 'train', 'logs', 'atento-scores.json'), 'utf8'));
  const c = chrF(rec.map((r) => extract(r.answer)), rec.map((r) => r.reference));
  assert.ok(Math.abs(c - scores['atento chat all'].chrf) < 1e-4, `${c} vs ${scores['atento chat all'].chrf}`);
});

test('the shipped tutor answers held-out questions correctly (both directions, after other turns)', { skip }, () => {
  // The first held-out turn of each direction that the recorded atento run
  // answered exactly (models/train/logs/atento-chat.heldout.jsonl, same order),
  // or, without that file, the first of each direction.
  const rec = existsSync(RECORDED) ? readFileSync(RECORDED, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : null;
  const picks = [];
  for (const dir of ['en2es', 'es2en']) {
    const k = rows.findIndex((r, i) => r.direction === dir && r.messages.length > 1 && (!rec || extract(rec[i].answer) === r.reference));
    assert.ok(k >= 0, dir);
    picks.push(rows[k]);
  }
  const out = chatJson(picks.map((r) => ({ messages: r.messages })), ['--model', MODEL]);
  for (let i = 0; i < picks.length; i++) {
    const q = picks[i].messages.at(-1).content;
    assert.equal(extract(out[i].message.content), picks[i].reference, `${q} -> ${out[i].message.content}`);
    assert.equal(out[i].stop_reason, 'eog');
    assert.ok(!out[i].message.content.includes('<|im_end|>'));
  }
});

test('held-out turns: chrF >= 0.5 on the first 100 (the issue\'s target)', { skip }, (t) => {
  const sample = rows.slice(0, 100);
  const out = chatJson(sample.map((r) => ({ messages: r.messages })), ['--model', MODEL]);
  const hyps = out.map((o) => extract(o.message.content)), refs = sample.map((r) => r.reference);
  const c = chrF(hyps, refs);
  const exact = hyps.filter((h, i) => h === refs[i]).length;
  t.diagnostic(`shipped tutor, first 100 held-out turns: chrF ${c.toFixed(4)}, exact ${exact}/100`);
  assert.ok(c >= 0.5, `chrF ${c}`);
  assert.ok(exact >= 10, `exact ${exact}/100`);
  assert.ok(out.every((o) => o.stop_reason === 'eog'), 'every answer ends with <|im_end|>');
});

test('the shipped tutor over several turns: the cache is reused, it is the default model', { skip }, () => {
  const sys = { role: 'system', content: 'You are a friendly English-Spanish language tutor.' };
  const c1 = [sys, { role: 'user', content: 'Hello!' }];
  const [a1] = chatJson([{ messages: c1 }], ['--model', MODEL]);
  const c2 = [...c1, a1.message, { role: 'user', content: rows[0].messages.at(-1).content }];
  const [a2] = chatJson([{ messages: c2 }], ['--model', MODEL]);
  const c3 = [...c2, a2.message, { role: 'user', content: 'Thanks, bye!' }];
  // no --model: models/tutor-en-es.gguf
  const [r1, r2, r3] = chatJson([{ messages: c1 }, { messages: c2 }, { messages: c3 }]);
  assert.equal(r1.message.content, a1.message.content);
  assert.equal(r2.message.content, a2.message.content);
  assert.ok(r2.reused_tokens >= r1.prompt_tokens, `turn 2 reused ${r2.reused_tokens} of turn 1's ${r1.prompt_tokens}`);
  assert.ok(r2.evaluated_tokens <= r2.prompt_tokens - r1.prompt_tokens);
  assert.ok(r3.reused_tokens >= r2.prompt_tokens);
  assert.ok(r3.evaluated_tokens <= r3.prompt_tokens - r2.prompt_tokens);
  assert.match(r1.message.content, /tutor|help|translate|Hola|Hello|Hi/i);
});
