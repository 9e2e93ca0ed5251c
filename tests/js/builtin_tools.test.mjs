// builtin_tools.test.mjs — the built-in tools (docs/chat.md): the
// dictionary from JS (src/dictionary.c through core.js, the same strings as
// models/tools/dictionary.py), and the Node API end to end: a chat model that
// declares GGUF atento.tools (tests/data/chat/tutor_tools.gguf, scripted by
// make_tutor_tools.py: its first reply calls lookup, translate, an unknown
// tool and lookup with a bad argument; after the results it answers "good
// amigo") gets its calls run with the shipped translation model and
// dictionary, and the result carries toolRuns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { load } from '../../js/index.js';
import { root, runtime, cli, nativeCli } from './helpers.mjs';

const DICT = join(root, 'models', 'dict-en-es.tsv');
const MT = join(root, 'models', 'translate-en-es.gguf');
const TUTOR = join(root, 'tests', 'data', 'chat', 'tutor_tools.gguf');
const T = { skip: !existsSync(join(root, 'dist', 'atento.wasm')) && 'dist/atento.wasm is missing: run ./build.sh', timeout: 180000 };
const python = '/usr/bin/python3';

// Words to compare: a sample of the keys of both sections, and variants
// that go through every normalization and fallback.
function wordList() {
  const lines = readFileSync(DICT, 'utf8').split('\n');
  const out = [];
  let lang = null;
  lines.forEach((l, i) => {
    if (/^(en|es)\t\d+$/.test(l)) { lang = l.slice(0, 2); return; }
    if (!lang || !l || i % 37) return;
    const k = l.split('\t')[0];
    const noAccent = k.normalize('NFD').replace(/[\u0300-\u036f]/g, '');
    out.push([k, lang], [k.toUpperCase(), lang], [`"${k}"?`, lang], [`¿${k}?`, lang], [`«${k}»`, lang], [noAccent, lang],
      [`${k}s`, lang], [`${k}es`, lang], [lang === 'en' ? `the ${k}` : `los ${k}`, lang], [lang === 'en' ? `to ${k}` : `una ${k}`, lang],
      [k, lang === 'en' ? 'es' : 'en']);
  });
  out.push(['', 'en'], ['   ', 'es'], ['...', 'en'], ['Á', 'es'], ['a', 'en'], ['the', 'en'], ['luces', 'es'], ['libraries', 'en'],
    ['  Buenos \t días!! ', 'es'], ['EL GATO', 'es'], ['naïve', 'en'], ['ÆSIR', 'en'], ['straße', 'en']);
  return out;
}

test('dictionary: the C lookup gives exactly what models/tools/dictionary.py gives', { ...T, skip: T.skip || (!existsSync(python) && 'no python3') }, async () => {
  const rt = await runtime();
  const d = rt.loadDictionary(readFileSync(DICT));
  try {
    assert.ok(d.size('en') > 5000 && d.size('es') > 4000);
    const words = wordList();
    assert.ok(words.length > 2500, `${words.length} words`);
    const py = spawnSync(python, ['-c', `
import json, sys
sys.path.insert(0, 'models/tools')
from dictionary import lookup
print(json.dumps([lookup(w, f) for w, f in json.load(sys.stdin)]))
`], { cwd: root, input: JSON.stringify(words), encoding: 'utf8', maxBuffer: 1 << 26 });
    assert.equal(py.status, 0, py.stderr);
    const want = JSON.parse(py.stdout);
    let found = 0;
    words.forEach(([w, f], i) => {
      assert.equal(d.lookup(w, f), want[i], `lookup(${JSON.stringify(w)}, ${f})`);
      if (want[i] !== '(no entry)') found++;
    });
    assert.ok(found > words.length / 2, `${found} of ${words.length} found`);
    assert.equal(d.lookup('Gato', 'es'), 'cat, jack');
    assert.equal(d.lookup("What?", "en"), "como, a título de, porqué");
    assert.equal(d.lookup("xyzzy!", "en"), "(no entry)");
    assert.throws(() => d.lookup('gato', 'fr'), /'from' must be "en" or "es"/);
    assert.throws(() => d.lookup(42, 'es'), /must be a string/);
  } finally {
    d.free();
  }
  assert.throws(() => d.lookup('gato', 'es'), /freed/);
});

test('dictionary: damaged files are refused with a one-line reason', T, async () => {
  const rt = await runtime();
  const good = readFileSync(DICT);
  const cases = [
    [new Uint8Array(0), /not an atento dictionary/],
    [readFileSync(MT).subarray(0, 4096), /not an atento dictionary/],
    [good.subarray(0, good.length - 7), /line \d+|ends after/],
    [Buffer.concat([good, Buffer.from('junk\n')]), /after the last section/],
    [Buffer.from(good.toString('latin1').replace('\ngato\t', '\nzzzz\t'), 'latin1'), /ascending/],
  ];
  for (const [bytes, re] of cases) {
    assert.throws(() => rt.loadDictionary(bytes), (e) => e.code === 'E_LOAD' && re.test(e.message) && !e.message.includes('\n'));
  }
  assert.throws(() => rt.loadDictionary('text'), /expected the bytes/);
  // the runtime still works
  const d = rt.loadDictionary(good);
  assert.equal(d.lookup('perro', 'es'), 'dog');
  d.free();
});

test('chat: a model that declares atento.tools gets translate and lookup run (shipped translation model and dictionary)', T, async () => {
  const mt = await load(MT);
  let want;
  try {
    want = (await mt.translate('good morning', { to: 'es' })).text.replace(/\s+/g, ' ').trim();
  } finally {
    await mt.dispose();
  }
  const m = await load(TUTOR);
  try {
    assert.equal(m.info.tools.map((t) => t.function.name).join(), 'translate,lookup');
    const pieces = [];
    const stream = m.chat([{ role: 'user', content: 'What does gato mean?' }], { temperature: 0 });
    for await (const p of stream) pieces.push(p);
    const r = await stream;
    assert.equal(r.reason, 'eog');
    assert.equal(r.text, ' good amigo');
    assert.equal(r.rounds, 2);
    assert.deepEqual(r.toolRuns, [
      { name: 'lookup', arguments: { word: 'gato', from: 'es' }, result: 'cat, jack' },
      { name: 'translate', arguments: { text: 'good morning', to: 'es' }, result: want },
      { name: 'dance', arguments: {}, result: "error: unknown tool 'dance'; the tools are translate and lookup" },
      { name: 'lookup', arguments: { word: 42 }, result: 'error: lookup needs "word" (a string) and "from" ("en" or "es")' },
    ]);
    assert.ok(want.length > 0 && !want.includes('\n'), want);
    assert.deepEqual(r.messages.map((x) => x.role), ['user', 'assistant', 'tool', 'tool', 'tool', 'tool']);
    // The call is not streamed: the pieces are the answer's only.
    assert.equal(pieces.map((p) => p.text).join(''), ' good amigo');
    assert.deepEqual([...new Set(pieces.map((p) => p.round))], [1]);

    // tools: false: nothing offered, nothing run (this scripted model still "calls", as text)
    await m.resetChat();
    const off = await m.chat([{ role: 'user', content: 'What does gato mean?' }], { temperature: 0, tools: false });
    assert.deepEqual(off.toolRuns, []);
    assert.match(off.text, /^<tool_call>/);
    // the caller's own tools replace the built-in ones: calls come back parsed, not run
    const own = await m.chat([{ role: 'user', content: 'x' }], { temperature: 0, tools: [m.info.tools[1]] });
    assert.deepEqual(own.toolRuns, []);
    assert.equal(own.toolCalls.length, 4);
    // a bad toolSources value is an error of the request
    await assert.rejects(m.chat([{ role: 'user', content: 'x' }], { toolSources: { dictionary: 42 } }), /toolSources.dictionary/);
  } finally {
    await m.dispose();
  }
});

test('chat: a damaged or missing tool file is a tool result, the conversation goes on', T, async () => {
  const m = await load(TUTOR);
  try {
    const r = await m.chat([{ role: 'user', content: 'gato?' }], {
      temperature: 0,
      toolSources: { dictionary: new Uint8Array([1, 2, 3]), translate: join(root, 'no-such-model.gguf') },
    });
    assert.equal(r.text, ' good amigo');
    assert.match(r.toolRuns[0].result, /^error: the dictionary is not available: dictionary: not an atento dictionary/);
    assert.match(r.toolRuns[1].result, /^error: the translation model is not available: .*no such file/);
  } finally {
    await m.dispose();
  }
  // a model without atento.tools: no tools, toolRuns empty
  const plain = await load(join(root, 'tests', 'data', 'chat', 'hola_chatml.gguf'));
  try {
    assert.equal(plain.info.tools, null);
    const r = await plain.chat([{ role: 'user', content: 'hi' }], { temperature: 0 });
    assert.deepEqual(r.toolRuns, []);
    assert.equal(r.rounds, undefined);
  } finally {
    await plain.dispose();
  }
});

// ---- both CLIs ------------------------------------------------------------------


const ASK = '{"messages":[{"role":"user","content":"What does gato mean?"}],"temperature":0}\n';
const withoutTimings = (s) => s.replace(/,"timings":\{[^}]*\}/g, '');

function nativeChat(args, input) {
  if (!existsSync(nativeCli)) return null;
  const r = spawnSync(nativeCli, ['chat', ...args], { cwd: root, input, encoding: 'utf8', timeout: 120000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('atento chat --json (both CLIs): the built-in tools run, tool_runs shown, the same bytes', T, () => {
  const js = cli(['chat', '--json', '--model', TUTOR], { input: ASK + ASK });
  assert.equal(js.code, 0, js.stderr);
  const lines = js.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 2);
  for (const r of lines) {
    assert.equal(r.message.content, ' good amigo');
    assert.deepEqual(r.tool_runs.map((x) => [x.name, x.result.startsWith('error: ') ? 'error' : 'ok']),
      [['lookup', 'ok'], ['translate', 'ok'], ['dance', 'error'], ['lookup', 'error']]);
    assert.equal(r.tool_runs[0].result, 'cat, jack');
  }
  // --no-tools: the reply is the call, as text, and nothing ran
  const off = cli(['chat', '--json', '--no-tools', '--model', TUTOR], { input: ASK });
  assert.equal(off.code, 0, off.stderr);
  const o = JSON.parse(off.stdout);
  assert.equal(o.tool_runs, undefined);
  assert.match(o.message.content, /^<tool_call>/);
  // the caller's own tools replace them: calls shown, not run
  const own = cli(['chat', '--json', '--model', TUTOR], { input: ASK.replace('"temperature"', '"tools":[{"type":"function","function":{"name":"lookup"}}],"temperature"') });
  const ow = JSON.parse(own.stdout);
  assert.equal(ow.tool_runs, undefined);
  assert.equal(ow.message.tool_calls.length, 4);

  const nat = nativeChat(['--json', '--model', TUTOR], ASK + ASK);
  if (nat) {
    assert.equal(nat.code, 0, nat.stderr);
    assert.equal(withoutTimings(nat.stdout), withoutTimings(js.stdout));
    const natOff = nativeChat(['--json', '--no-tools', '--model', TUTOR], ASK);
    assert.equal(withoutTimings(natOff.stdout), withoutTimings(off.stdout));
    const natOwn = nativeChat(['--json', '--model', TUTOR], ASK.replace('"temperature"', '"tools":[{"type":"function","function":{"name":"lookup"}}],"temperature"'));
    assert.equal(withoutTimings(natOwn.stdout), withoutTimings(own.stdout));
  }
});

test('atento chat interactive (both CLIs): the call is not printed, the answer is, a note says which tools were used', T, () => {
  const input = 'What does gato mean?\nAnd perro?\n';
  const runs = [cli(['chat', '--model', TUTOR, '--temperature', '0'], { input })];
  const nat = nativeChat(['--model', TUTOR, '--temperature', '0'], input);
  if (nat) runs.push(nat);
  for (const r of runs) {
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, ' good amigo\n good amigo\n');
    assert.equal(r.stderr, '[used: lookup, translate, dance]\n[used: lookup, translate, dance]\n');
  }
  const off = cli(['chat', '--model', TUTOR, '--temperature', '0', '--no-tools'], { input: 'gato?\n' });
  assert.match(off.stdout, /^<tool_call>/);
  assert.equal(off.stderr, '');
});

test('atento lookup (both CLIs): the tool\'s answer, the same lines and exit codes', T, () => {
  const cases = [
    [['gato', '--from', 'es'], 0, 'cat, jack\n'],
    [['The Dogs!', '--from=en'], 0, 'perro\n'],
    [['xyzzy', '--from', 'en'], 0, '(no entry)\n'],
    [['gato', '--from', 'fr'], 2, ''],
    [['--from', 'es'], 2, ''],
    [['gato', '--from', 'es', '--dictionary', MT], 1, ''],
  ];
  for (const [args, code, stdout] of cases) {
    const js = cli(['lookup', ...args]);
    assert.equal(js.code, code, `${args.join(' ')}: ${js.stderr}`);
    assert.equal(js.stdout, stdout);
    assert.equal(js.stderr === '', code === 0, js.stderr);
    const nat = existsSync(nativeCli) ? spawnSync(nativeCli, ['lookup', ...args], { cwd: root, encoding: 'utf8' }) : null;
    if (nat) {
      assert.equal(nat.status, code, `native ${args.join(' ')}: ${nat.stderr}`);
      assert.equal(nat.stdout, stdout);
      assert.equal(nat.stderr, js.stderr);
    }
  }
});
