// chat_tools.test.mjs — tool calls through the Node API (js/index.js): the
// template shows the model the tools, the reply's calls are parsed in C
// (atn_chat_parse_tool_calls), runTool runs each call, the result goes back
// as a `tool` message and the model continues. tests/data/chat/hola_tools.gguf
// is scripted so that every reply is the same call (make_chat_fixtures.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { load } from '../../js/index.js';
import { root } from './helpers.mjs';

const MODEL = join(root, 'tests', 'data', 'chat', 'hola_tools.gguf');
const T = { skip: !existsSync(join(root, 'dist', 'atento.wasm')) && 'dist/atento.wasm is missing: run ./build.sh', timeout: 120000 };
const TOOLS = [{ type: 'function', function: { name: 'lookup', description: 'Look a word up.', parameters: { type: 'object', properties: { word: { type: 'string' } } } } }];
const CALL = { name: 'lookup', arguments: { word: 'gato', from: 'es' } };

test('chat with tools: the calls come back parsed', T, async () => {
  const m = await load(MODEL);
  try {
    const r = await m.chat([{ role: 'user', content: 'What does gato mean?' }], { tools: TOOLS, temperature: 0 });
    assert.equal(r.reason, 'eog');
    assert.deepEqual(r.toolCalls, [CALL]);
    assert.equal(r.content, '');
    assert.match(r.text, /^<tool_call>\{"name":"lookup"/);
    // without tools nothing is parsed
    await m.resetChat();
    const plain = await m.chat([{ role: 'user', content: 'What does gato mean?' }], { temperature: 0 });
    assert.equal(plain.toolCalls, undefined);
  } finally {
    await m.dispose();
  }
});

test('chat with runTool: each call runs, its result is a tool turn, the model continues (bounded rounds)', T, async () => {
  const m = await load(MODEL);
  try {
    const seen = [];
    const pieces = [];
    const stream = m.chat([{ role: 'system', content: 'You are a tutor.' }, { role: 'user', content: 'What does gato mean?' }], {
      tools: TOOLS, temperature: 0, maxToolRounds: 2,
      runTool: async (call) => { seen.push(call); return seen.length === 1 ? 'cat' : { meaning: 'cat', n: seen.length }; },
    });
    for await (const p of stream) pieces.push(p);
    const r = await stream;
    assert.deepEqual(seen, [CALL, CALL]);
    assert.deepEqual(r.toolRuns.map((x) => x.result), ['cat', '{"meaning":"cat","n":2}']);
    assert.deepEqual(r.messages.map((x) => x.role), ['system', 'user', 'assistant', 'tool', 'assistant', 'tool']);
    assert.equal(r.messages[3].content, 'cat');
    // the scripted model calls again every time: the third reply is returned with its (unrun) call
    assert.deepEqual(r.toolCalls, [CALL]);
    assert.deepEqual([...new Set(pieces.map((p) => p.round))], [0, 1, 2]);
    // each round after the first reuses the cache of the one before
    assert.ok(r.reusedTokens > 100, `reused ${r.reusedTokens}`);
    // a tool that throws: its message is the result, the chat goes on
    await m.resetChat();
    const r2 = await m.chat([{ role: 'user', content: 'x' }], { tools: TOOLS, temperature: 0, maxToolRounds: 1, runTool: () => { throw new Error('no dictionary'); } });
    assert.deepEqual(r2.toolRuns.map((x) => x.result), ['error: no dictionary']);
    // a bad tools value is an error of the request
    await assert.rejects(m.chat([{ role: 'user', content: 'x' }], { tools: 'lookup' }), /tools must be an array/);
    await assert.rejects(m.chat([{ role: 'hacker', content: 'x' }], {}), /message 0 has role 'hacker'/);
  } finally {
    await m.dispose();
  }
});
