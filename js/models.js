// models.js — where the shipped models are (Node only). A checkout has them
// in models/; npm users install the companion package atento-models-en-es
// (packages/atento-models-en-es) next to atento, and it is found from
// atento's own folder or from the working directory. $ATENTO_MODELS_DIR
// names a folder to use instead.
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';

export const MODELS_PACKAGE = 'atento-models-en-es';
export const SHIPPED = { translate: 'translate-en-es.gguf', chat: 'tutor-en-es.gguf', dictionary: 'dict-en-es.tsv' };

const isFile = (p) => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
};

/** The folder of the installed atento-models-en-es package, or null. */
export function modelsPackageDir() {
  const from = [import.meta.url, pathToFileURL(join(process.cwd(), 'index.js')).href];
  for (const base of from) {
    try {
      return dirname(createRequire(base).resolve(`${MODELS_PACKAGE}/package.json`));
    } catch { /* not installed there */ }
  }
  return null;
}

/** The folders searched for shipped models, in order. */
export function modelDirs() {
  if (process.env.ATENTO_MODELS_DIR) return [process.env.ATENTO_MODELS_DIR];
  const dirs = [fileURLToPath(new URL('../models/', import.meta.url))];
  const pkg = modelsPackageDir();
  if (pkg) dirs.push(pkg);
  return dirs;
}

/** What to tell someone who has no models. */
export function noModelAdvice() {
  return `install the shipped models with "npm install ${MODELS_PACKAGE}", or pass --model M.gguf`;
}

/**
 * The path of the shipped model of `kind` ('translate' or 'chat'), or an
 * Error (code E_NOMODEL) that says what to install or pass.
 */
export function shippedModel(kind) {
  const name = SHIPPED[kind];
  for (const d of modelDirs()) if (isFile(join(d, name))) return join(d, name);
  const what = kind === 'chat' ? 'chat model' : kind === 'dictionary' ? 'dictionary' : 'translation model';
  throw Object.assign(new Error(`no ${what} given and ${name} is not installed: ${noModelAdvice()}`), { code: 'E_NOMODEL' });
}
