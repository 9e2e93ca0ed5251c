// example.mjs — atento from Node: load a GGUF model in a worker thread and
// stream its output. A Marian model translates the text; a Llama-family
// model answers it as a chat message.
//
//   node example.mjs MODEL.gguf "text" [--to es|en] [--beam N] [--max-tokens N]
import { load } from 'atento';

const args = process.argv.slice(2);
const flag = (name, def) => {
  const i = args.indexOf(name);
  if (i < 0) return def;
  const v = args.splice(i, 2)[1];
  return typeof def === 'number' ? Number(v) : v;
};
const to = flag('--to', 'es');
const beam = flag('--beam', 1);
const maxTokens = flag('--max-tokens', 128);
const [modelPath, text = 'Hello, how are you?'] = args;
if (!modelPath) {
  console.error('usage: node example.mjs MODEL.gguf "text" [--to es|en] [--beam N] [--max-tokens N]');
  process.exit(2);
}

try {
  const model = await load(modelPath, {
    onProgress: (p) => process.stderr.write(`\rloading ${p.percent?.toFixed(0) ?? '?'}%`),
  });
  process.stderr.write(`\r${model.info.name}: ${model.arch}, ${model.kind}\n`);
  // Ctrl-C stops the output, not the program.
  process.on('SIGINT', () => model.abort());
  const stream = model.kind === 'translate'
    ? model.translate(text, { to, beam })
    : model.chat([{ role: 'user', content: text }], { maxTokens, temperature: 0.7 });
  for await (const piece of stream) process.stdout.write(piece.text);
  const result = await stream;
  process.stdout.write('\n');
  console.error(`[${result.reason}] ${result.stats.genTokens} tokens, ${result.stats.tokensPerSecond.toFixed(1)} tokens/s`);
  await model.dispose();
} catch (e) {
  console.error(`error (${e.code}): ${e.message}`);
  process.exit(1);
}
