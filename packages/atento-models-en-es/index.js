// The paths of the models in this package (Node):
//   import { translate, chat } from 'atento-models-en-es';
//   const mt = await load(translate);
import { fileURLToPath } from 'node:url';

/** English <-> Spanish Marian translation model (translate-en-es.md). */
export const translate = fileURLToPath(new URL('./translate-en-es.gguf', import.meta.url));
/** Bilingual tutor chat model, Llama architecture (tutor-en-es.md). */
export const chat = fileURLToPath(new URL('./tutor-en-es.gguf', import.meta.url));
/** English <-> Spanish dictionary of the tutor's lookup tool (dict-en-es.md; GPL-2.0-or-later, FreeDict). */
export const dictionary = fileURLToPath(new URL('./dict-en-es.tsv', import.meta.url));
