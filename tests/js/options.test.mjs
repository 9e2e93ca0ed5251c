// options.test.mjs — one set of rules for options (js/options.js) in the npm
// API, the JS CLI and the native CLI, with the same words; `to` is the
// target language (detected direction when absent, text already in the
// target said so); empty input is an error; partial UTF-8 shown as bytes.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { root, cli, nativeCli, nativeCliRun } from './helpers.mjs';
import { RULES, ruleText, checkOption, parseFlagValue, checkTo, targetsOf } from '../../js/options.js';
import { chooseDirection } from '../../js/direction.js';
import { readableBytes } from '../../js/bytes.js';
import { load } from '../../js/index.js';

const translateModel = join(root, 'models', 'translate-en-es.gguf');
const chatModel = join(root, 'models', 'tutor-en-es.gguf');
const noModels = !(existsSync(translateModel) && existsSync(chatModel)) && 'the shipped models are missing';
const haveNative = existsSync(nativeCli);

const models = [];
after(async () => { for (const m of models) await m.dispose(); });

test('the rules, in words', () => {
  assert.equal(ruleText(RULES.beam), 'an integer from 1 to 8');
  assert.equal(ruleText(RULES.topP), 'a number from 0 to 1');
  assert.equal(ruleText(RULES.repeatPenalty), 'a number > 0 and <= 100');
  assert.throws(() => checkOption('beam', 0), { code: 'E_ARG', message: 'beam must be an integer from 1 to 8, got 0' });
  assert.throws(() => checkOption('beam', 2.5), { message: 'beam must be an integer from 1 to 8, got 2.5' });
  assert.throws(() => checkOption('beam', '4'), { message: 'beam must be an integer from 1 to 8, got "4"' });
  assert.throws(() => checkOption('temperature', NaN), /temperature must be a number from 0 to 100, got NaN/);
  assert.equal(checkOption('beam', 8), 8);
  for (const bad of ['0', '9', '2.5', 'x', '', '0x4', 'Infinity', '1e1']) {
    assert.throws(() => parseFlagValue('beam', bad), { message: `--beam must be an integer from 1 to 8, got '${bad}'` }, bad);
  }
  assert.equal(parseFlagValue('beam', ' 4 '), 4);
  assert.equal(parseFlagValue('topP', '.5'), 0.5);
  assert.equal(parseFlagValue('temperature', '1e-1'), 0.1);
  assert.throws(() => parseFlagValue('temperature', 'inf'), /--temperature must be a number from 0 to 100, got 'inf'/);
  assert.deepEqual(targetsOf(['a', '>>es<<', '>>en<<', '>>x<<', '>>es']), ['en', 'es']);
  assert.throws(() => checkTo('fr', ['en', 'es']), { message: "to must be one of this model's target languages (en, es), got \"fr\"" });
  assert.throws(() => checkTo('es', []), /translates in one direction only; leave to out/);
  checkTo(undefined, ['en', 'es']);
  checkTo('xx', null); // tags that cannot be listed: the C translator checks them
});

test('the direction: to is the target; without it, the other language', () => {
  const en = { language: 'en', confidence: 1 };
  assert.deepEqual(chooseDirection(en, undefined, ['en', 'es']), { from: 'en', to: 'es', sameLanguage: false });
  assert.deepEqual(chooseDirection({ language: 'es', confidence: 1 }, undefined, ['en', 'es']), { from: 'es', to: 'en', sameLanguage: false });
  const same = chooseDirection(en, 'en', ['en', 'es'], 'to', true);
  assert.equal(same.sameLanguage, true);
  assert.equal(same.note, 'the text is already in English');
  assert.equal(chooseDirection(en, 'en', ['en', 'es']).sameLanguage, false, 'not surely in to (textIsIn said no): translate');
  assert.equal(chooseDirection({ language: 'es', confidence: 1 }, 'en', ['en', 'es'], 'to', true).sameLanguage, false, 'detected another language');
  assert.deepEqual(chooseDirection(en, undefined, []), { from: 'en', to: '', sameLanguage: false });
  assert.throws(() => chooseDirection({ language: null, confidence: 0 }, undefined, ['en', 'es']), /cannot tell which language the text is in; give to \(one of en, es\)/);
  assert.throws(() => chooseDirection(en, undefined, ['de', 'fr']), /the text looks English; give to/);
});

test('partial UTF-8 characters are shown as byte escapes, never U+FFFD', () => {
  assert.equal(readableBytes(new Uint8Array([0x68, 0xE2, 0x82])), 'h\\xE2\\x82');
  assert.equal(readableBytes(new TextEncoder().encode('€ñ a')), '€ñ a');
  assert.equal(readableBytes(new Uint8Array([0xFF, 0x41, 0xED, 0xA0, 0x80])), '\\xFFA\\xED\\xA0\\x80');
  assert.equal(readableBytes(new Uint8Array([0x82, 0xAC])), '\\x82\\xAC');
});

test('the npm API rejects bad options with the same words, before any work', { skip: noModels, timeout: 120000 }, async () => {
  const mt = await load(translateModel);
  models.push(mt);
  assert.deepEqual(mt.info.targets, ['en', 'es']);
  for (const beam of [0, -1, 99, 2.5]) {
    await assert.rejects(mt.translate('Hello.', { beam }), { code: 'E_ARG', message: `beam must be an integer from 1 to 8, got ${beam}` });
  }
  await assert.rejects(mt.translate('Hello.', { to: 'fr' }), { message: "to must be one of this model's target languages (en, es), got \"fr\"" });
  await assert.rejects(mt.translate(''), { code: 'E_ARG', message: 'the text is empty' });
  await assert.rejects(mt.translate(' \n '), { message: 'the text is empty' });
  await assert.rejects(mt.translate(42), { message: 'the text must be a string, got 42' });
  await assert.rejects(mt.translate('Hello.', { noRepeatNgram: 17 }), { code: 'E_ARG', message: 'noRepeatNgram must be an integer from 0 to 16, got 17' });
  await assert.rejects(mt.translate('Hello.', { noRepeatSpan: 1.5 }), { code: 'E_ARG', message: 'noRepeatSpan must be an integer from 0 to 16, got 1.5' });
  // still usable
  assert.equal((await mt.translate('Good morning.', { to: 'es' })).reason, 'done');

  const tutor = await load(chatModel);
  models.push(tutor);
  const msgs = [{ role: 'user', content: 'Hi' }];
  await assert.rejects(tutor.chat(msgs, { temperature: -1 }), { message: 'temperature must be a number from 0 to 100, got -1' });
  await assert.rejects(tutor.chat(msgs, { topP: 1.5 }), { message: 'topP must be a number from 0 to 1, got 1.5' });
  await assert.rejects(tutor.chat(msgs, { maxTokens: 2.5 }), { message: 'maxTokens must be an integer from 1 to 1048576, got 2.5' });
  await assert.rejects(tutor.generate('Hi', { topK: -3 }), { message: 'topK must be an integer from 0 to 1048576, got -3' });
  await assert.rejects(tutor.generate('', {}), { message: 'the prompt is empty' });
  await assert.rejects(tutor.generate('Hi', { stop: [''] }), { message: 'stop must be a non-empty string or an array of them' });
  await assert.rejects(tutor.generate('Hi', { kvType: 'q8' }), { code: 'E_ARG', message: 'kvType must be \'f32\' or \'f16\', got "q8"' });
  await assert.rejects(tutor.chat(msgs, { kvType: 16 }), { code: 'E_ARG', message: 'kvType must be \'f32\' or \'f16\', got 16' });
  // f16 works, and a chat continues in the cache of its type
  const g = await tutor.generate('Hola', { kvType: 'f16', maxTokens: 4, temperature: 0 });
  assert.ok(g.stats.genTokens > 0);
  const c = await tutor.chat(msgs, { kvType: 'f16', maxTokens: 4, temperature: 0 });
  assert.ok(c.text.length > 0 || c.stats.genTokens > 0);
});

test('the npm API: to is the target, the direction is detected without it, the same language is said', { skip: noModels, timeout: 120000 }, async () => {
  const mt = models[0] ?? await load(translateModel);
  if (!models.length) models.push(mt);
  const en = 'I would like a cup of coffee, please.';
  const auto = await mt.translate(en);
  const toEs = await mt.translate(en, { to: 'es' });
  assert.equal(auto.from, 'en');
  assert.equal(auto.to, 'es');
  assert.equal(auto.text, toEs.text, 'leaving to out = to: es for English text');
  assert.match(auto.text, /café/);
  const same = await mt.translate(en, { to: 'en' });
  assert.equal(same.reason, 'same-language');
  assert.equal(same.text, en, 'not translated again');
  assert.equal(same.note, 'the text is already in English');
  const es = await mt.translate('¿Dónde está la estación de tren?');
  assert.equal(es.from, 'es');
  assert.equal(es.to, 'en');
  assert.match(es.text, /station/i);
  assert.deepEqual(await mt.detectLanguage('Me gusta mucho el café con leche.'), { language: 'es', confidence: 1 });
  await assert.rejects(mt.detectLanguage(''), /the text is empty/);
});

// The same bad option gives the same line from the JS CLI and the native CLI.
const BAD = [
  [['translate', '--beam', '0', 'Hello.'], "atento: --beam must be an integer from 1 to 8, got '0'"],
  [['translate', '--beam', '99', 'Hello.'], "atento: --beam must be an integer from 1 to 8, got '99'"],
  [['translate', '--beam', '2.5', 'Hello.'], "atento: --beam must be an integer from 1 to 8, got '2.5'"],
  [['translate', '--to', 'fr', 'Hello.'], "atento: --to must be one of this model's target languages (en, es), got 'fr'"],
  [['translate', ''], 'atento: the text is empty: nothing to translate'],
  [['translate', '--no-repeat-ngram', '17', 'Hello.'], "atento: --no-repeat-ngram must be an integer from 0 to 16, got '17'"],
  [['translate', '--no-repeat-span', '-1', 'Hello.'], "atento: --no-repeat-span must be an integer from 0 to 16, got '-1'"],
  [['generate', '--model', chatModel, '--prompt', 'hi', '--temperature', 'hot'], "atento: --temperature must be a number from 0 to 100, got 'hot'"],
  [['generate', '--model', chatModel, '--prompt', 'hi', '--top-p', '1.5'], "atento: --top-p must be a number from 0 to 1, got '1.5'"],
  [['generate', '--model', chatModel, '--prompt', 'hi', '--max-tokens', '-3'], "atento: --max-tokens must be an integer from 1 to 1048576, got '-3'"],
  [['generate', '--model', chatModel, '--prompt', 'hi', '--repeat-penalty', '0'], "atento: --repeat-penalty must be a number > 0 and <= 100, got '0'"],
  [['chat', '--json', '--top-k', '-1'], "atento: --top-k must be an integer from 0 to 1048576, got '-1'"],
  [['chat', '--json', '--seed', '1.5'], "atento: --seed must be an integer from 0 to 9007199254740991, got '1.5'"],
  [['chat', '--json', '--kv-type', 'q8_0'], "atento: --kv-type must be f32 or f16, got 'q8_0'"],
  [['generate', '--model', chatModel, '--prompt', 'hi', '--kv-type', 'F16'], "atento: --kv-type must be f32 or f16, got 'F16'"],
  [['score', '--model', chatModel, '--text', 'hi there', '--kv-type', ''], "atento: --kv-type must be f32 or f16, got ''"],
  [['bench', '--model', chatModel, '--kv-type', 'bf16'], "atento: --kv-type must be f32 or f16, got 'bf16'"],
];

for (const [args, line] of BAD) {
  test(`CLI: ${args.filter((a) => a !== chatModel).join(' ')} -> the same line, JS and native`, { skip: noModels }, () => {
    const w = cli(args, { input: '' });
    assert.equal(w.code, 2, w.stderr);
    assert.equal(w.stderr, line + '\n');
    if (!haveNative) return;
    const n = nativeCliRun(args);
    assert.equal(n.code, 2, n.stderr);
    assert.equal(n.stderr, line + '\n');
  });
}

test('CLI: empty stdin is an error; text in the target language is said and printed unchanged; no --to detects', { skip: noModels, timeout: 120000 }, () => {
  for (const input of ['', '  \n']) {
    const r = cli(['translate'], { input });
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'atento: stdin is empty: nothing to translate\n');
  }
  const runs = [cli(['translate', '--to', 'en', 'Where is the train station?'])];
  if (haveNative) runs.push(nativeCliRun(['translate', '--to', 'en', 'Where is the train station?']));
  for (const r of runs) {
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Where is the train station?\n');
    assert.equal(r.stderr, 'atento: the text is already in English (--to en); it is printed unchanged\n');
  }
  const es = cli(['translate', '--json', '¿Dónde está la estación de tren?']);
  assert.equal(es.code, 0, es.stderr);
  const j = JSON.parse(es.stdout);
  assert.equal(j.from, 'es');
  assert.equal(j.to, 'en');
  if (haveNative) {
    const n = JSON.parse(nativeCliRun(['translate', '--json', '¿Dónde está la estación de tren?']).stdout);
    assert.equal(n.from, 'es');
    assert.equal(n.to, 'en');
    assert.equal(n.translations[0].text, j.translations[0].text);
  }
});

// One or two words are always translated: the detector is not to be trusted
// on them ("library" looks Spanish to it), the same rule in the API, the JS
// CLI and the native CLI (atn_text_is_in_language).
const WORDS = [['library', 'es'], ['table', 'es'], ['hello', 'es'], ['hola', 'en'], ['gato', 'en'], ['library', 'en'], ['hola', 'es']];

test('the npm API: single words are translated whatever the detector says', { skip: noModels, timeout: 120000 }, async () => {
  const mt = models[0] ?? await load(translateModel);
  if (!models.length) models.push(mt);
  for (const [word, to] of WORDS) {
    const r = await mt.translate(word, { to });
    assert.notEqual(r.reason, 'same-language', `${word} -> ${to}`);
    assert.equal(r.note, undefined, `${word} -> ${to}`);
    assert.equal(r.to, to);
    assert.ok(r.text.trim().length > 0 && r.stats.genTokens > 0, `${word} -> ${to}: ${JSON.stringify(r.text)}`);
  }
  assert.match((await mt.translate('library', { to: 'es' })).text, /biblioteca/i);
  assert.match((await mt.translate('gato', { to: 'en' })).text, /cat/i);
  // Three words or more, surely in the target: said, not translated.
  assert.equal((await mt.translate('The library is open.', { to: 'en' })).reason, 'same-language');
  assert.equal((await mt.translate('El gato duerme mucho.', { to: 'es' })).reason, 'same-language');
});

for (const [word, to] of WORDS.slice(0, 5)) {
  test(`CLI: translate --to ${to} ${word} is translated, JS and native`, { skip: noModels, timeout: 120000 }, () => {
    const runs = [['JS', cli(['translate', '--to', to, word])]];
    if (haveNative) runs.push(['native', nativeCliRun(['translate', '--to', to, word])]);
    for (const [which, r] of runs) {
      assert.equal(r.code, 0, `${which}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /already/, which);
      assert.notEqual(r.stdout.trim().toLowerCase(), word, `${which}: printed unchanged`);
      assert.ok(r.stdout.trim().length > 0, which);
    }
    assert.equal(runs.at(-1)[1].stdout, runs[0][1].stdout, 'JS and native agree');
  });
}
