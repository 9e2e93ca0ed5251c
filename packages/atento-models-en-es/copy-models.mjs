// copy-models.mjs — `npm pack` (prepack) copies the shipped models and their
// cards from the repository's models/ into this package; the copies are
// git-ignored, models/ stays the one place they are kept.
import { copyFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const from = new URL('../../models/', import.meta.url);
const to = new URL('./', import.meta.url);
for (const f of ['translate-en-es.gguf', 'tutor-en-es.gguf', 'translate-en-es.md', 'tutor-en-es.md', 'dict-en-es.tsv', 'dict-en-es.md']) {
  const src = fileURLToPath(new URL(f, from));
  if (!existsSync(src)) {
    console.error(`copy-models: ${src} is missing`);
    process.exit(1);
  }
  copyFileSync(src, fileURLToPath(new URL(f, to)));
}
