// teach.js — the page's Teach view: fine-tune the translation model in use
// on the user's own sentence pairs (docs/training.md). Everything heavy runs
// in the model's worker (Model.finetune); this file moves text, draws the
// loss, and stores the result. The adapted model is kept in the page's storage
// under its own name through the page's openModel (app.js, window.atento),
// becomes the translation model in use, and the Models view switches back
// to the original at any time.
import { parseTsv, replaySources } from '../js/finetune.js';

const $ = (id) => document.getElementById(id);
const page = window.atento;
let running = null; // AbortController of the fine-tuning in progress
let replayText = null;

async function replay(to) {
  replayText ??= fetch(new URL('../models/finetune-replay.tsv', location.href)).then((r) => (r.ok ? r.text() : '')).catch(() => '');
  return replaySources(await replayText, to);
}

function status(t) { $('teach-status').textContent = t; }

// The loss so far as a line on the canvas (y from 0 to the first loss).
function plot(losses, steps) {
  const c = $('teach-loss');
  const w = (c.width = c.clientWidth || 320);
  const h = (c.height = c.clientHeight || 120);
  const g = c.getContext('2d');
  g.clearRect(0, 0, w, h);
  if (!losses.length) return;
  const top = Math.max(...losses) * 1.05;
  g.strokeStyle = getComputedStyle(c).color || '#06c';
  g.lineWidth = 2;
  g.beginPath();
  losses.forEach((l, i) => {
    const x = steps > 1 ? (i / (steps - 1)) * (w - 4) + 2 : w / 2;
    const y = h - 2 - (l / top) * (h - 4);
    if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
  });
  g.stroke();
}

async function translateWith(slot, text, to) {
  if (!text.trim()) return '';
  const r = await slot.model.translate(text, { to });
  return r.text;
}

async function teach() {
  if (running) return;
  let pairs;
  try {
    pairs = parseTsv($('teach-pairs').value, 'pairs');
  } catch (e) {
    status(e.message);
    return;
  }
  if (!pairs.length) { status('Enter pairs first: one "source<TAB>target" per line.'); $('teach-pairs').focus(); return; }
  const slot = await page.ensureModel('translate');
  if (!slot) return;
  const to = $('teach-to').value;
  const name = $('teach-name').value.trim() || `${slot.name} (taught)`;
  const sample = $('teach-sample').value;
  $('teach-before').textContent = '';
  $('teach-after').textContent = '';
  const ctrl = new AbortController();
  running = ctrl;
  $('teach-run').disabled = true;
  $('teach-stop').disabled = false;
  const prog = $('teach-progress');
  prog.hidden = false;
  prog.value = 0;
  const losses = [];
  try {
    $('teach-before').textContent = await translateWith(slot, sample, to);
    status('Preparing (translating the replayed sentences)…');
    const t0 = performance.now();
    const r = await slot.model.finetune(pairs.map((p) => ({ source: p.source, target: p.target })), {
      to, steps: Math.min(1000, Math.max(1, Number($('teach-steps').value) || 30)), replay: await replay(to), signal: ctrl.signal,
      onProgress: (p) => {
        losses.push(p.loss);
        prog.max = p.steps;
        prog.value = p.step;
        plot(losses, p.steps);
        status(`Step ${p.step} of ${p.steps}, loss ${p.loss.toFixed(3)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
      },
    });
    if (r.reason === 'abort') { status(`Stopped after ${r.losses.length} steps; the model in use is unchanged.`); return; }
    const blob = new Blob([r.bytes], { type: 'application/octet-stream' });
    const taught = await page.openModel({ key: `file:${name}`, name, blob }, { wantKind: 'translate' });
    if (!taught) return;
    $('teach-after').textContent = await translateWith(taught, sample, to);
    status(`Taught ${r.info.pairs} pairs in ${r.info.step} steps (${(r.trainMs / 1000).toFixed(1)} s); "${name}" is stored and in use. The Models view switches back to the original.`);
  } catch (e) {
    status(`Teaching failed: ${e.message}`);
  } finally {
    running = null;
    prog.hidden = true;
    $('teach-run').disabled = false;
    $('teach-stop').disabled = true;
  }
}

$('teach-run').addEventListener('click', teach);
$('teach-stop').addEventListener('click', () => running?.abort());
$('teach-file').addEventListener('change', async (e) => {
  const f = e.target.files?.[0];
  if (f) $('teach-pairs').value = await f.text();
});
