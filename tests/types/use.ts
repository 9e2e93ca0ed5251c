// use.ts — the package's types as a user's code sees them; compiled with
// tsc under a Node-only config (tsconfig.node.json: no DOM lib, skipLibCheck
// off) and a browser config (tsconfig.dom.json) by tests/js/types.test.mjs.
import { load, AtentoError, formatBytes, RULES, type Model, type TranslateResult, type Progress } from '../../index.js';
import { initAtento, relaxedSimdSupported, type Atento } from '../../js/core.js';
import { initAtentoFromFile, loadModelFromFile } from '../../js/node.js';

export async function translateOnce(path: string): Promise<string> {
  const m: Model = await load(path, { onProgress: (p: Progress) => { void p.percent; }, simd: 'auto' });
  const simd: 'relaxed' | 'simd128' = m.info.simd;
  void simd;
  try {
    const r: TranslateResult = await m.translate('Hello.', { beam: 4, to: 'es' });
    const d = await m.detectLanguage('Hola, ¿qué tal?');
    const lang: 'en' | 'es' | null = d.language;
    void lang;
    for await (const piece of m.chat([{ role: 'user', content: 'Hi' }], { temperature: 0.7, maxTokens: 16 })) void piece.text;
    if (r.reason === 'same-language') return r.note ?? '';
    return `${r.text} (${r.from} -> ${r.to}, ${r.reason}) ${formatBytes(m.info.fileSize)} targets ${m.info.targets?.join(',')}`;
  } catch (e) {
    if (e instanceof AtentoError) return e.code;
    throw e;
  } finally {
    await m.dispose();
  }
}

export async function lowLevel(bytes: Uint8Array): Promise<number> {
  const rt: Atento = await initAtento(bytes, { simd: relaxedSimdSupported() ? 'auto' : 'simd128' });
  void (rt.simd === 'relaxed' ? rt.simdError : '');
  const rt2 = await initAtentoFromFile();
  const m = loadModelFromFile(rt2, 'm.gguf');
  void m;
  void RULES.beam.max;
  return rt.memoryBytes;
}
