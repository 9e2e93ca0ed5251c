// bad.ts — must NOT compile (tests/js/types.test.mjs): a beam given as text.
import { load } from '../../index.js';

export async function wrong(): Promise<void> {
  const m = await load('m.gguf');
  await m.translate('Hello.', { beam: 'four' });
}
