// atento chat: talk to a chat model in the terminal, or answer conversations
// given as JSON (--json). The C core renders the model's chat template and
// keeps the KV cache between turns (atn_chat_prefill), so each turn only
// evaluates its own new tokens; when the context is full the oldest turns are
// dropped (the system prompt is kept) and a note says so.
//
// Interactive: one line of input is one user message; the reply streams token
// by token. Ctrl-C during a reply stops that reply; Ctrl-C or Ctrl-D at the
// prompt ends the program. Lines "/reset" (new conversation) and "/exit".
//
// --json: stdin holds one or more conversations (a JSON object each, one after
// the other, e.g. one per line):
//   {"messages":[{"role":"system","content":"..."},{"role":"user","content":"..."}],
//    "max_tokens":64, "temperature":0, "top_p":1, "top_k":0, "min_p":0,
//    "repeat_penalty":1, "seed":1, "stop":["\n\n"]}        (all but messages optional)
// and each gets one JSON line:
//   {"message":{"role":"assistant","content":"..."},"tokens":[...],
//    "prompt_tokens":n,"reused_tokens":n,"evaluated_tokens":n,"dropped_messages":n,
//    "stop_reason":"eog"|"stop"|"length","timings":{...}}
// Conversations after the first reuse the same KV cache: a conversation that
// continues the previous one (its messages plus the reply plus a new user
// message) only evaluates the new turn.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { shippedModel, noModelAdvice } from '../models.js';
import readline from 'node:readline';
import { UsageError, loadModelFile, samplerFlags, pretokenizerFlag, kvTypeFlag, out } from './_common.js';
import { BuiltinTools, declaredTools, MAX_TOOL_ROUNDS } from '../tools.js';

export const summary = 'chat with a model in the terminal (streamed), or answer a JSON conversation (--json)';

export const flags = {
  model: { type: 'path', value: 'M.gguf', help: 'the chat model (default: the shipped tutor model in models/)' },
  system: { type: 'string', value: 'TEXT', help: 'the system prompt' },
  'max-tokens': { type: 'int', min: 1, value: 'N', help: 'at most N tokens per reply (default 256)' },
  ...samplerFlags,
  stop: { type: 'list', value: 'TEXT', help: 'also end a reply at TEXT, not printed (repeatable)' },
  ctx: { type: 'int', min: 0, value: 'N', help: 'context size in tokens (default: the model\'s, at most 4096)' },
  ...kvTypeFlag,
  json: { type: 'bool', help: 'read conversations as JSON on stdin, print one JSON answer each' },
  verbose: { type: 'bool', help: 'print token counts and speed of each turn on stderr' },
  ...pretokenizerFlag,
  'no-tools': { type: 'bool', help: 'do not run the model\'s built-in tools (translate, lookup)' },
};

export const notes = ['Interactive: Ctrl-C stops a reply; Ctrl-D or Ctrl-C at the prompt exits; /reset starts over.'];

export const examples = [
  'atento chat',
  'atento chat --model m.gguf --system "You are a pirate." --temperature 0.7',
  'echo \'{"messages":[{"role":"user","content":"Hi!"}]}\' | atento chat --json',
];

const DEFAULT_MAX_TOKENS = 256;

/** A failure with a one-line message (bin/atento.js prints it, exit 1). */
function failure(message, code = 'E_INPUT') {
  return Object.assign(new Error(message), { code });
}
const SHIPPED = 'tutor-en-es.gguf';

/** The chat model shipped in models/ ($ATENTO_MODELS_DIR overrides the folder). */
export function defaultChatModel() {
  if (!process.env.ATENTO_MODELS_DIR) return shippedModel('chat');
  const dir = process.env.ATENTO_MODELS_DIR;
  const isFile = (p) => {
    try {
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (isFile(join(dir, SHIPPED))) return join(dir, SHIPPED);
  let names = [];
  try {
    names = readdirSync(dir).filter((f) => /\.gguf$/i.test(f) && /chat|tutor/i.test(f)).sort();
  } catch {
    names = [];
  }
  for (const f of names) if (isFile(join(dir, f))) return join(dir, f);
  throw failure(`no chat model given and none shipped in ${dir} (looked for ${SHIPPED} and *chat*.gguf): ${noModelAdvice()}`);
}

/** Messages left after dropping `dropped` of them right after the system prompt. */
export function dropOldest(messages, dropped) {
  if (dropped <= 0) return messages;
  const first = messages.length && messages[0].role === 'system' ? 1 : 0;
  return [...messages.slice(0, first), ...messages.slice(first + dropped)];
}

/**
 * One turn: prefill the conversation, then stream the reply through
 * onText(text) (may be async). shouldStop() is polled between tokens; when it
 * says yes the reply ends there (stop_reason 'interrupted').
 */
export async function chatTurn(ctx, messages, p, { onText, shouldStop, yieldEvery = 0, vars = null } = {}) {
  const { rt, model, session } = ctx;
  const nCtx = session.nCtx;
  // Room kept for the reply: max-tokens, but never more than half the context,
  // so a long reply limit cannot squeeze the conversation out.
  const reserve = Math.max(1, Math.min(p.maxTokens, Math.floor(nCtx / 2)));
  const t0 = performance.now();
  const { evaluated, dropped } = session.chatPrefill(messages, reserve, vars);
  const t1 = performance.now();
  const promptTokens = session.nPast;
  const sampler = model.newSampler(p.sampler);
  let content = '', reason = 'length';
  const tokens = [];
  try {
    const it = model.generate(session, sampler, { maxTokens: Math.min(p.maxTokens, nCtx - session.nPast), stop: p.stop });
    for (let k = 0; ; k++) {
      if (shouldStop && shouldStop()) {
        it.return();
        reason = 'interrupted';
        break;
      }
      const { value, done } = it.next();
      if (done) {
        reason = value.reason;
        break;
      }
      if (value.token >= 0) tokens.push(value.token);
      if (value.text) {
        content += value.text;
        if (onText) await onText(value.text);
      }
      // let the event loop see key presses (Ctrl-C) between tokens
      if (yieldEvery && k % yieldEvery === 0) await new Promise((r) => setImmediate(r));
    }
  } finally {
    sampler.free();
  }
  const t2 = performance.now();
  const n = tokens.length;
  return {
    content,
    tokens,
    promptTokens,
    evaluated,
    reused: promptTokens - evaluated,
    dropped,
    reason,
    timings: {
      prompt_ms: round(t1 - t0),
      prompt_tokens_per_s: evaluated && t1 > t0 ? round(evaluated / ((t1 - t0) / 1000)) : 0,
      gen_ms: round(t2 - t1),
      gen_tokens_per_s: n && t2 > t1 ? round(n / ((t2 - t1) / 1000)) : 0,
    },
  };
}

function round(x) {
  return Number.isFinite(x) ? Math.round(x * 100) / 100 : 0;
}

// ---- JSON input ------------------------------------------------------------------

/**
 * Split text into its top-level JSON values (objects/arrays, one after the
 * other, whitespace between). Returns [{text, line}]; throws a one-line error
 * for anything else (an unterminated value, stray characters).
 */
// Nesting bound, as the native CLI's: a member of the conversation object may
// hold values nested 64 deep; an array or object at depth 65 (the conversation
// object is depth 1) must be empty. JSON.parse copes with any depth, but the
// two CLIs take the same inputs.
const MAX_JSON_DEPTH = 65;

export function splitJsonValues(s) {
  const vals = [];
  let i = 0, line = 1;
  const n = s.length;
  while (i < n) {
    const c = s[i];
    if (c === '\n') { line++; i++; continue; }
    if (c === ' ' || c === '\t' || c === '\r') { i++; continue; }
    if (c !== '{' && c !== '[') throw new Error(`line ${line}: expected a JSON object, found '${printable(s, i)}'`);
    const start = i, startLine = line;
    let depth = 0, inStr = false;
    for (; i < n; i++) {
      const d = s[i];
      if (d === '\n') line++;
      if (inStr) {
        if (d === '\\') i++;
        else if (d === '"') inStr = false;
      } else if (depth >= MAX_JSON_DEPTH && d !== '}' && d !== ']' && d !== ' ' && d !== '\t' && d !== '\r' && d !== '\n') {
        throw new Error(`line ${line}: nested more than ${MAX_JSON_DEPTH - 1} deep`);
      } else if (d === '"') inStr = true;
      else if (d === '{' || d === '[') depth++;
      else if (d === '}' || d === ']') {
        if (--depth === 0) { i++; break; }
      }
    }
    if (depth !== 0 || inStr) throw new Error(`line ${startLine}: the JSON value is not terminated`);
    vals.push({ text: s.slice(start, i), line: startLine });
  }
  return vals;
}

function printable(s, i) {
  return JSON.stringify(s.slice(i, i + 12)).slice(1, -1);
}

const NUM_PARAMS = {
  max_tokens: { key: 'maxTokens', int: true, min: 1 },
  temperature: { key: 'temperature', min: 0 },
  top_k: { key: 'topK', int: true, min: 0 },
  top_p: { key: 'topP', min: 0, max: 1 },
  min_p: { key: 'minP', min: 0, max: 1 },
  repeat_penalty: { key: 'repeatPenalty', min: 0 },
  repeat_last_n: { key: 'repeatLastN', int: true, min: 0 },
  seed: { key: 'seed', int: true, min: 0 },
};

/** Check one parsed conversation; returns {messages, params} or throws. */
export function checkConversation(v) {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('expected an object {"messages": [...]}');
  const msgs = v.messages;
  if (!Array.isArray(msgs) || msgs.length === 0) throw new Error('"messages" must be a non-empty array of {"role", "content"}');
  const messages = msgs.map((m, i) => {
    if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new Error(`messages[${i}] must be an object {"role", "content"}`);
    if (typeof m.role !== 'string' || m.role.length === 0) throw new Error(`messages[${i}].role must be a non-empty string`);
    if (typeof m.content !== 'string') throw new Error(`messages[${i}].content must be a string`);
    if (m.role.includes('\0') || m.content.includes('\0')) throw new Error(`messages[${i}] contains a NUL character`);
    return { role: m.role, content: m.content };
  });
  const params = {};
  for (const [name, spec] of Object.entries(NUM_PARAMS)) {
    if (v[name] === undefined || v[name] === null) continue;
    const x = v[name];
    if (typeof x !== 'number' || !Number.isFinite(x) || (spec.int && !Number.isSafeInteger(x))) {
      throw new Error(`"${name}" must be ${spec.int ? 'an integer' : 'a number'}`);
    }
    if (spec.min !== undefined && x < spec.min) throw new Error(`"${name}" must be >= ${spec.min}`);
    if (spec.max !== undefined && x > spec.max) throw new Error(`"${name}" must be <= ${spec.max}`);
    params[spec.key] = x;
  }
  if (v.stop !== undefined && v.stop !== null) {
    const st = typeof v.stop === 'string' ? [v.stop] : v.stop;
    if (!Array.isArray(st) || st.some((s) => typeof s !== 'string' || s.length === 0 || s.includes('\0'))) {
      throw new Error('"stop" must be a non-empty string or an array of them');
    }
    params.stop = st;
  }
  // template variables: tools (OpenAI-style definitions) and chat_template_kwargs
  let vars = null;
  if (v.tools !== undefined && v.tools !== null && !Array.isArray(v.tools)) throw new Error('"tools" must be an array of tool definitions');
  const kw = v.chat_template_kwargs;
  if (kw !== undefined && kw !== null && (typeof kw !== 'object' || Array.isArray(kw))) throw new Error('"chat_template_kwargs" must be an object');
  if (Array.isArray(v.tools) || (kw && typeof kw === 'object')) vars = { ...(kw || {}), ...(Array.isArray(v.tools) ? { tools: v.tools } : {}) };
  return { messages, params, vars, tools: Array.isArray(v.tools) };
}

/** The offset of the first byte of `b` that is not part of a valid UTF-8 character. */
function utf8FirstInvalid(b) {
  const fatal = new TextDecoder('utf-8', { fatal: true });
  let lo = 0, hi = b.length; // the longest valid prefix, by bisection on whole-prefix validity
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    let ok = true;
    try { fatal.decode(b.subarray(0, mid), { stream: true }); } catch { ok = false; }
    if (ok) lo = mid; else hi = mid - 1;
  }
  // a valid prefix may end inside a character: back up to its start
  while (lo > 0 && (b[lo] & 0xc0) === 0x80) lo--;
  return lo;
}

/** Parse stdin's bytes into checked conversations (all of them, before any work). */
export function parseConversations(bytes) {
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw failure('--json: the input is not valid UTF-8');
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let vals;
  try {
    vals = splitJsonValues(text);
  } catch (e) {
    throw failure(`--json: ${e.message}`);
  }
  if (vals.length === 0) throw failure('--json: no conversation on stdin (expected {"messages": [...]})');
  return vals.map(({ text: t, line }, k) => {
    const where = vals.length > 1 ? `conversation ${k + 1} (line ${line})` : 'the input';
    let v;
    try {
      v = JSON.parse(t);
    } catch (e) {
      throw failure(`--json: ${where} is not valid JSON: ${e.message}`);
    }
    try {
      return checkConversation(v);
    } catch (e) {
      throw failure(`--json: ${where}: ${e.message}`);
    }
  });
}

const MAX_INPUT = 64 * 2 ** 20; // bytes of JSON on stdin

async function readStdin() {
  const chunks = [];
  let n = 0;
  for await (const c of process.stdin) {
    n += c.length;
    if (n > MAX_INPUT) throw failure(`--json: the input is larger than ${MAX_INPUT / 2 ** 20} MiB`);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

// ---- the command -------------------------------------------------------------------

function params(o, j = {}) {
  const pick = (k) => (o[k] !== undefined ? o[k] : j[k]);
  const sampler = {};
  for (const k of ['temperature', 'topK', 'topP', 'minP', 'repeatPenalty', 'repeatLastN', 'seed']) {
    const v = pick(k);
    if (v !== undefined) sampler[k] = v;
  }
  return {
    maxTokens: pick('maxTokens') ?? DEFAULT_MAX_TOKENS,
    sampler,
    stop: [...(o.stop || []), ...(j.stop || [])],
  };
}

export async function run(o) {
  for (const s of o.stop) if (s.length === 0) throw new UsageError('--stop is empty');
  if (o.json && o.system !== undefined) throw new UsageError('--system is for the interactive chat; with --json put a system message in "messages"');
  // Read and check the input before loading anything: bad input fails fast.
  const convs = o.json ? parseConversations(await readStdin()) : null;
  const path = o.model ?? defaultChatModel();
  const { rt, model, loadMs } = await loadModelFile(path, { allowUnknownPretokenizer: o.allowUnknownPretokenizer });
  let tools = null;
  try {
    if (model.arch === 'marian') throw failure(`${path} is a translation model (marian): use atento translate`);
    const session = model.newSession(o.ctx || 0, { kvType: o.kvType });
    // The model's built-in tools (docs/chat.md), run with the shipped
    // translation model and dictionary, loaded on first use.
    const builtin = o.noTools ? null : declaredTools(model);
    if (builtin) {
      tools = new BuiltinTools(rt, {
        translate: () => ({ path: shippedModel('translate') }),
        dictionary: () => ({ path: shippedModel('dictionary') }),
      });
    }
    const ctx = { rt, model, session, builtin, tools };
    if (convs) return await runJson(ctx, convs, o, loadMs);
    return await runInteractive(ctx, o, path);
  } finally {
    tools?.free();
    model.free();
  }
}

/**
 * One answer with the built-in tools: reply, run the calls it makes, append
 * the reply and the results as 'assistant' and 'tool' messages, reply again,
 * until a reply makes no call or MAX_TOOL_ROUNDS rounds ran (as the worker and
 * src/cli/chat.c do). Streams only replies that are not tool calls. Returns
 * the last reply's chatTurn result plus toolRuns.
 */
async function toolsTurn(ctx, messages, p, { onText, vars = null, ...rest } = {}) {
  const msgs = messages.slice();
  const toolRuns = [];
  const v = { ...(vars || {}), tools: ctx.builtin };
  for (let round = 0; ; round++) {
    let held = '', mode = 'undecided';
    const gated = onText ? async (text) => {
      if (mode === 'text') return onText(text);
      if (mode === 'call') return undefined;
      held += text;
      const t = held.replace(/^[ \t\n\r\v\f]+/, '');
      if (t.startsWith('<tool_call>')) { mode = 'call'; held = ''; } else if (!'<tool_call>'.startsWith(t)) { mode = 'text'; const h = held; held = ''; return onText(h); }
      return undefined;
    } : undefined;
    const r = await chatTurn(ctx, msgs, p, { ...rest, vars: v, onText: gated });
    if (onText && mode === 'undecided' && held) await onText(held);
    if (r.reason === 'interrupted' || round >= MAX_TOOL_ROUNDS) return { ...r, toolRuns };
    let calls;
    let error = null;
    try {
      calls = ctx.rt.parseToolCalls(r.content).toolCalls;
    } catch (e) {
      calls = [];
      error = e.message;
    }
    if (!calls.length && error === null) return { ...r, toolRuns };
    msgs.push({ role: 'assistant', content: r.content });
    if (error !== null) msgs.push({ role: 'tool', content: `error: the tool call could not be read: ${error}` });
    for (const call of calls) {
      const result = await ctx.tools.run(call);
      toolRuns.push({ name: call.name, arguments: call.arguments, result });
      msgs.push({ role: 'tool', content: result });
    }
  }
}

async function runJson(ctx, convs, o, loadMs) {
  for (let k = 0; k < convs.length; k++) {
    const { messages, params: jp, vars, tools } = convs[k];
    // no "tools" given: the model's own built-in tools, unless --no-tools
    const builtin = !tools && ctx.builtin;
    const r = builtin ? await toolsTurn(ctx, messages, params(o, jp), { vars }) : await chatTurn(ctx, messages, params(o, jp), { vars });
    const res = {
      message: { role: 'assistant', content: r.content },
      ...(builtin ? { tool_runs: r.toolRuns } : {}),
      tokens: r.tokens,
      prompt_tokens: r.promptTokens,
      reused_tokens: r.reused,
      evaluated_tokens: r.evaluated,
      dropped_messages: r.dropped,
      stop_reason: r.reason,
      timings: k === 0 ? { load_ms: round(loadMs), ...r.timings } : r.timings,
    };
    let line = JSON.stringify(res);
    if (tools) {
      // the calls as the C parser writes them, spliced into "message" (the
      // same bytes as the native CLI)
      const m = JSON.stringify(res.message);
      line = line.replace(m, () => m.slice(0, -1) + toolCallsJson(ctx.rt, r.content) + '}');
    }
    await out(line + '\n');
  }
  return 0;
}

/** ',"tool_calls":[...]' of a reply, or the reason they cannot be read. */
function toolCallsJson(rt, content) {
  try {
    const j = rt.parseToolCallsJson(content);
    return j.slice(j.indexOf(',"tool_calls":['), -1);
  } catch (e) {
    return ',"tool_calls":[],"tool_call_error":' + JSON.stringify(e.message);
  }
}

async function runInteractive(ctx, o, path) {
  const p = params(o);
  const tty = !!(process.stdin.isTTY && process.stdout.isTTY);
  const base = o.system !== undefined ? [{ role: 'system', content: o.system }] : [];
  let messages = [...base];
  const note = (s) => process.stderr.write(`[${s}]\n`);
  if (tty) {
    process.stderr.write(`atento chat: ${path} (context ${ctx.session.nCtx} tokens). ` +
      'Ctrl-C stops a reply; Ctrl-D or Ctrl-C at the prompt exits; /reset starts over.\n');
  }
  // A terminal is read through readline (prompt, line editing); piped input
  // as raw bytes split at '\n', so a line that is not valid UTF-8 can be
  // refused (readline would hand it over with U+FFFD), as the native CLI does.
  const rl = tty ? readline.createInterface({ input: process.stdin, output: process.stdout, terminal: true, prompt: '> ' }) : null;
  let generating = false, interrupted = false, quit = false, failed = 0;
  const onInterrupt = () => {
    if (generating) interrupted = true;
    else {
      quit = true;
      if (tty) process.stdout.write('\n');
      if (rl) rl.close();
      else process.stdin.pause();
      poke();
    }
  };
  rl?.on('SIGINT', onInterrupt);
  process.on('SIGINT', onInterrupt);
  // Lines are queued from 'line' events rather than read with `for await`,
  // which pauses the input while a reply is generated: in a terminal Ctrl-C
  // is a key press on stdin, and it must be read during the reply.
  const queue = [];
  let ended = false, wake = null;
  const poke = () => { if (wake) { wake(); wake = null; } };
  if (rl) {
    rl.on('line', (l) => { queue.push(l); poke(); });
    rl.on('close', () => { ended = true; poke(); });
  } else {
    const fatal = new TextDecoder('utf-8', { fatal: true });
    const push = (bytes) => {
      try {
        queue.push(fatal.decode(bytes));
      } catch {
        queue.push({ invalidAt: utf8FirstInvalid(bytes) });
      }
    };
    let pending = Buffer.alloc(0);
    process.stdin.on('data', (c) => {
      let b = pending.length ? Buffer.concat([pending, c]) : c;
      for (let i; (i = b.indexOf(10)) >= 0; b = b.subarray(i + 1)) push(b.subarray(0, i));
      pending = Buffer.from(b);
      poke();
    });
    process.stdin.on('end', () => {
      if (pending.length) push(pending);
      ended = true;
      poke();
    });
  }
  const nextLine = async () => {
    while (!queue.length && !ended && !quit) await new Promise((r) => { wake = r; });
    return queue.length && !quit ? queue.shift() : null;
  };
  try {
    if (tty) rl.prompt();
    for (let raw; (raw = await nextLine()) !== null;) {
      if (typeof raw === 'object') {
        failed++;
        note(`error: the line is not valid UTF-8 (byte ${raw.invalidAt})`);
        continue;
      }
      const line = raw.replace(/\r$/, '');
      if (line.trim() === '') {
        if (tty) rl.prompt();
        continue;
      }
      if (line.trim() === '/exit' || line.trim() === '/quit') break;
      if (line.trim() === '/reset') {
        messages = [...base];
        ctx.session.truncate(0);
        note('new conversation');
        if (tty) rl.prompt();
        continue;
      }
      messages.push({ role: 'user', content: line });
      generating = true;
      interrupted = false;
      let r;
      try {
        const turn = ctx.builtin ? toolsTurn : chatTurn;
        r = await turn(ctx, messages, p, { onText: out, shouldStop: () => interrupted, yieldEvery: 1 });
      } catch (e) {
        generating = false;
        messages.pop();
        // the cache no longer matches anything known: start it afresh
        ctx.session.truncate(0);
        failed++;
        note(`error: ${String(e.message).replace(/\s*\n\s*/g, ' ')}`);
        if (tty && !quit) rl.prompt();
        continue;
      }
      generating = false;
      await out('\n');
      if (r.dropped > 0) {
        messages = dropOldest(messages, r.dropped);
        note(`context full: dropped the ${r.dropped} oldest message${r.dropped > 1 ? 's' : ''}` +
          `${messages[0]?.role === 'system' ? ' (the system prompt is kept)' : ''}`);
      }
      messages.push({ role: 'assistant', content: r.content });
      if (r.toolRuns?.length) note(`used: ${[...new Set(r.toolRuns.map((x) => x.name))].join(', ')}`);
      if (r.reason === 'interrupted') note('reply stopped');
      else if (r.reason === 'length') note(`reply cut at ${r.tokens.length} tokens`);
      if (o.verbose) {
        note(`prompt ${r.promptTokens} tokens (${r.evaluated} evaluated, ${r.reused} reused from the cache), ` +
          `reply ${r.tokens.length} tokens, ${r.timings.gen_tokens_per_s} tokens/s, ${r.reason}`);
      }
      if (quit) break;
      if (tty) rl.prompt();
    }
  } finally {
    process.removeListener('SIGINT', onInterrupt);
    if (rl) rl.close();
    else process.stdin.pause();
  }
  // piped input: a turn that failed makes the exit status non-zero
  return failed && !tty ? 1 : 0;
}
