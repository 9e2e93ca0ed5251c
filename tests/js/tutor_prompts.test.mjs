// tutor_prompts.test.mjs — the shipped tutor (models/tutor-en-es.gguf) with its
// built-in tools (the shipped translation model and dictionary) answers the
// prompts the page and the README suggest, greedily, through the Node API:
// the page's placeholder and empty-chat hint (web/index.html, web/app.js),
// the README's examples and the ones issue 11 reported as wrong. Each answer
// must contain the expected translation and say which tool ran.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from '../../js/index.js';
import { root } from './helpers.mjs';

const TUTOR = join(root, 'models', 'tutor-en-es.gguf');
const T = { skip: !existsSync(join(root, 'dist', 'atento.wasm')) && 'dist/atento.wasm is missing: run ./build.sh', timeout: 120000 };

// [question, expected in the answer, the tool that must have run]
const PROMPTS = [
  ['How do you say “good morning” in Spanish?', /buenos días/i, 'translate'],    // web/index.html placeholder
  ['How do you say thank you in Spanish?', /gracias/i, 'translate'],             // web/app.js empty-chat hint
  ['How do you say "good morning" in Spanish?', /buenos días/i, 'translate'],    // README, Node API example
  ['How do you say "I am hungry" in Spanish?', /tengo hambre/i, 'translate'],    // README, atento chat --json
  ['What does "gato" mean?', /\bcat\b/i, 'lookup'],                              // issue 11
  ['Translate: good morning', /buenos días/i, 'translate'],                      // issue 11 (README of the time)
  ['¿Cómo se dice "perro" en inglés?', /\bdog\b/i, 'lookup'],                    // the model card's weak case
];

test('the page and README prompts are answered correctly by the shipped tutor and its tools', T, async () => {
  // the prompts are still the ones the page and README show
  const page = readFileSync(join(root, 'web', 'index.html'), 'utf8') + readFileSync(join(root, 'web', 'app.js'), 'utf8');
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  assert.ok(page.includes('How do you say “good morning” in Spanish?'));
  assert.ok(page.includes('How do you say thank you in Spanish?'));
  assert.ok(readme.includes('How do you say "good morning" in Spanish?'));
  assert.ok(readme.includes('How do you say \\"I am hungry\\" in Spanish?'));

  const m = await load(TUTOR);
  try {
    assert.deepEqual(m.info.tools.map((t) => t.function.name), ['translate', 'lookup']);
    for (const [q, want, tool] of PROMPTS) {
      await m.resetChat();
      const r = await m.chat([{ role: 'user', content: q }], { temperature: 0 });
      assert.match(r.text, want, `${q} -> ${r.text} (tools: ${JSON.stringify(r.toolRuns)})`);
      assert.ok(r.toolRuns.some((t) => t.name === tool), `${q}: ${tool} did not run: ${JSON.stringify(r.toolRuns)}`);
      assert.doesNotMatch(r.text, /<tool_call>/);
    }
    // a follow-up keeps the conversation's direction
    await m.resetChat();
    const first = await m.chat([{ role: 'user', content: 'How do you say "cat" in Spanish?' }], { temperature: 0 });
    assert.match(first.text, /gato/i, first.text);
    const msgs = [...first.messages, { role: 'assistant', content: first.text }, { role: 'user', content: 'And "dog"?' }];
    const next = await m.chat(msgs, { temperature: 0 });
    assert.match(next.text, /perro/i, `${next.text} ${JSON.stringify(next.toolRuns)}`);
  } finally {
    await m.dispose();
  }
});
