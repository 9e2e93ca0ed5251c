// atento lookup WORD --from en|es: the built-in lookup tool's answer from the
// shipped dictionary (models/dict-en-es.tsv, src/dictionary.c): at most five
// translations, most common first, or "(no entry)" — the same string a chat
// model gets from the tool (docs/chat.md, "Built-in tools").
import { readFileSync } from 'node:fs';
import { shippedModel } from '../models.js';
import { UsageError, getRuntime, parseFlags, out } from './_common.js';

export const summary = 'look a word up in the English-Spanish dictionary (the lookup tool)';

export const flags = {
  from: { type: 'string', required: true, value: 'en|es', help: 'the language of the word' },
  dictionary: { type: 'path', value: 'FILE', help: 'the dictionary (default: the shipped dict-en-es.tsv)' },
};

export const examples = [
  'atento lookup gato --from es',
  'atento lookup "the dogs" --from en',
];

/** Flags plus one positional WORD. */
export function parseArgs(argv) {
  const pos = [];
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') { pos.push(...argv.slice(i + 1)); break; }
    if (a.startsWith('--') && a.length > 2) {
      rest.push(a);
      if (!a.includes('=') && i + 1 < argv.length) rest.push(argv[++i]);
    } else pos.push(a);
  }
  const o = parseFlags('lookup', rest, flags);
  if (pos.length !== 1) throw new UsageError(`give the word as one argument (quote a phrase), got ${pos.length}`);
  o.word = pos[0];
  return o;
}

export async function run(o) {
  if (o.from !== 'en' && o.from !== 'es') throw new UsageError(`--from must be en or es, got '${o.from}'`);
  const path = o.dictionary ?? shippedModel('dictionary');
  let bytes;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw Object.assign(new Error(`cannot open dictionary '${path}': ${{ ENOENT: 'no such file', EACCES: 'permission denied', EISDIR: 'is a directory' }[e.code] || e.message}`), { code: 'E_LOAD' });
  }
  const rt = await getRuntime();
  const d = rt.loadDictionary(bytes);
  try {
    await out(d.lookup(o.word, o.from) + '\n');
  } finally {
    d.free();
  }
  return 0;
}
