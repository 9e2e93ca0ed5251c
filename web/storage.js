// storage.js — where the page keeps models between visits.
//
// Large files go to the Origin Private File System (written by the model's
// worker as it downloads them, newFile(), or streamed to disk beside the
// loader, download(); never held in memory twice); small ones (< SMALL bytes) to Cache
// Storage; without either the page still works, it just downloads again.
// An index in localStorage ('atento.store') lists what is kept:
//   {id, name, size, where: 'opfs'|'cache', hash, keys: [url or 'file:name', ...]}
// `hash` is the SHA-256 of the content: a file opened twice, or opened after
// the same model was downloaded, is stored once and gains one more key.
const INDEX = 'atento.store';
const DIR = 'atento-models';
const CACHE = 'atento-models-v2';
const OLD_CACHES = ['atento-models-v1'];
export const SMALL = 8 * 1024 * 1024;

const hasOpfs = typeof navigator !== 'undefined' && !!navigator.storage?.getDirectory;
const hasCaches = typeof caches !== 'undefined';

function readIndex() {
  try {
    const j = JSON.parse(localStorage.getItem(INDEX) || '[]');
    return Array.isArray(j) ? j : [];
  } catch {
    return [];
  }
}
function writeIndex(list) {
  try { localStorage.setItem(INDEX, JSON.stringify(list)); } catch { /* private mode: nothing is kept */ }
}

let dirHandle = null; // looked up once
async function dir() {
  dirHandle ??= navigator.storage.getDirectory().then((root) => root.getDirectoryHandle(DIR, { create: true }));
  try {
    return await dirHandle;
  } catch (e) {
    dirHandle = null;
    throw e;
  }
}

const cacheUrl = (id) => new URL(`./stored-model/${id}`, location.href).href;
const newId = () => `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;

/** Can this browser keep models? */
export function canStore() { return hasOpfs || hasCaches; }

/** Everything kept, newest first. */
export function list() { return readIndex().slice().sort((a, b) => (b.time || 0) - (a.time || 0)); }

/** The entry stored under `key` (a URL or 'file:name'), or null. */
export function find(key) { return readIndex().find((e) => e.keys.includes(key)) || null; }

/** The bytes of an entry as a Blob (a File from disk for OPFS), or null if they are gone. */
export async function blobOf(entry) {
  try {
    if (entry.where === 'opfs') return await (await (await dir()).getFileHandle(entry.id)).getFile();
    const r = await (await caches.open(CACHE)).match(cacheUrl(entry.id));
    return r ? await r.blob() : null;
  } catch {
    return null;
  }
}

/**
 * The file of an entry kept in the Origin Private File System, for the
 * model's worker to read in place (js/worker.js), or null (kept elsewhere, or gone).
 */
export async function handleOf(entry) {
  if (entry.where !== 'opfs') return null;
  try {
    return await (await dir()).getFileHandle(entry.id);
  } catch {
    return null;
  }
}

async function removeBytes(entry) {
  try {
    if (entry.where === 'opfs') await (await dir()).removeEntry(entry.id);
    else await (await caches.open(CACHE)).delete(cacheUrl(entry.id));
  } catch { /* already gone */ }
}

/** Forget an entry and free its bytes. */
export async function remove(id) {
  const all = readIndex();
  const e = all.find((x) => x.id === id);
  writeIndex(all.filter((x) => x.id !== id));
  if (e) await removeBytes(e);
}

async function sha256(blob) {
  const d = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Record `entry` (bytes already written) and merge it with an entry of the
 * same content: the older one keeps the bytes and gains the keys.
 */
async function commit(entry) {
  const all = readIndex().filter((x) => x.id !== entry.id);
  const same = entry.hash ? all.find((x) => x.hash === entry.hash) : null;
  if (same) {
    for (const k of entry.keys) if (!same.keys.includes(k)) same.keys.push(k);
    writeIndex(all);
    await removeBytes(entry);
    return same;
  }
  // A key points at one entry only.
  for (const x of all) x.keys = x.keys.filter((k) => !entry.keys.includes(k));
  writeIndex([...all.filter((x) => x.keys.length), entry]);
  for (const x of all) if (!x.keys.length) await removeBytes(x);
  return entry;
}

/**
 * Keep a Blob (a model opened from disk) under `key`. Its content hash is
 * taken first, so bytes already kept are not written again.
 */
export async function saveBlob(key, name, blob) {
  if (!canStore()) return null;
  const hash = await sha256(blob);
  // A download of the same size whose hash is still to be taken (settle()
  // runs when the page is idle) may be this very file.
  for (const x of readIndex()) if (!x.hash && x.size === blob.size) await settle(x).catch(() => {});
  const all = readIndex();
  const same = all.find((x) => x.hash === hash);
  if (same) {
    if (!same.keys.includes(key)) same.keys.push(key);
    for (const x of all) if (x !== same) x.keys = x.keys.filter((k) => k !== key);
    writeIndex(all.filter((x) => x.keys.length));
    return same;
  }
  const entry = { id: newId(), name, size: blob.size, where: hasOpfs && blob.size >= SMALL ? 'opfs' : hasCaches ? 'cache' : 'opfs', hash, keys: [key], time: Date.now() };
  if (entry.where === 'opfs') {
    const w = await (await (await dir()).getFileHandle(entry.id, { create: true })).createWritable();
    await blob.stream().pipeTo(w);
  } else {
    await (await caches.open(CACHE)).put(cacheUrl(entry.id), new Response(blob, { headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(blob.size) } }));
  }
  return commit(entry);
}

/**
 * Download `url`: the bytes arrive as `stream` (for the model loader) and,
 * at the same time, are written to storage, so the model loads while it
 * downloads and nothing is read twice. onProgress({loaded, total,
 * bytesPerSecond}) as they arrive. Returns {stream, total, stored}: `stored`
 * resolves to the entry once it is on disk (its hash is filled in later by
 * settle()) and rejects, cleaning up, if the download or the write fails or
 * `signal` aborts. Errors carry a one-line message.
 */
export async function download(key, name, url, { signal, onProgress } = {}) {
  let res;
  try {
    res = await fetch(url, { signal });
  } catch (e) {
    if (e.name === 'AbortError') throw Object.assign(new Error('loading was cancelled'), { code: 'E_ABORTED' });
    throw Object.assign(new Error(`cannot download ${name}: ${navigator.onLine === false ? 'this device is offline' : e.message}`), { code: 'E_FETCH' });
  }
  if (!res.ok) throw Object.assign(new Error(`cannot download ${name}: HTTP ${res.status}`), { code: 'E_FETCH' });
  const enc = res.headers.get('content-encoding');
  const len = Number(res.headers.get('content-length'));
  const total = (!enc || enc === 'identity') && len > 0 ? len : 0;
  const where = hasOpfs && (total === 0 || total >= SMALL) ? 'opfs' : 'cache';
  const entry = { id: newId(), name, size: 0, where, hash: null, keys: [key], time: Date.now() };
  const t0 = performance.now();
  let loaded = 0;
  let last = 0;
  const rate = () => loaded / Math.max(1e-3, (performance.now() - t0) / 1000);
  const counter = new TransformStream({
    transform(chunk, ctl) {
      loaded += chunk.byteLength;
      const t = performance.now();
      if (t - last > 80 || loaded === total) {
        last = t;
        onProgress?.({ loaded, total, bytesPerSecond: rate() });
      }
      ctl.enqueue(chunk);
    },
  });
  onProgress?.({ loaded: 0, total, bytesPerSecond: 0 });
  const [toDisk, toLoader] = res.body.pipeThrough(counter, { signal }).tee();
  const stored = (async () => {
    try {
      if (where === 'opfs') {
        const w = await (await (await dir()).getFileHandle(entry.id, { create: true })).createWritable();
        await toDisk.pipeTo(w, { signal });
      } else {
        const blob = await new Response(toDisk).blob();
        await (await caches.open(CACHE)).put(cacheUrl(entry.id), new Response(blob, { headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(blob.size) } }));
      }
    } catch (e) {
      await removeBytes(entry);
      if (signal?.aborted) throw Object.assign(new Error('loading was cancelled'), { code: 'E_ABORTED' });
      if (/quota/i.test(e.name + e.message)) throw Object.assign(new Error(`not enough storage for ${name}: free some in the Models tab`), { code: 'E_STORAGE' });
      throw Object.assign(new Error(`the download of ${name} was cut after ${loaded} bytes: ${e.message}`), { code: 'E_FETCH' });
    }
    onProgress?.({ loaded, total: loaded, bytesPerSecond: rate() });
    if (total && loaded !== total) {
      await removeBytes(entry);
      throw Object.assign(new Error(`the download of ${name} ended early: ${loaded} of ${total} bytes`), { code: 'E_FETCH' });
    }
    entry.size = loaded;
    const all = readIndex();
    for (const x of all) x.keys = x.keys.filter((k) => k !== key);
    writeIndex([...all.filter((x) => x.keys.length), entry]);
    return entry;
  })();
  stored.catch(() => {});
  return { stream: toLoader, total, stored };
}

/**
 * A new file in the Origin Private File System for a download that the
 * model's worker writes as it reads it (js/worker.js, load({storeTo})), or
 * null where there is none. keep(size) records it under `key` once the
 * worker has written it all; drop() deletes it.
 */
export async function newFile(key, name) {
  if (!hasOpfs) return null;
  const entry = { id: newId(), name, size: 0, where: 'opfs', hash: null, keys: [key], time: Date.now() };
  let handle;
  try {
    handle = await (await dir()).getFileHandle(entry.id, { create: true });
  } catch {
    return null;
  }
  return {
    handle,
    keep(size) {
      entry.size = size;
      const all = readIndex();
      for (const x of all) x.keys = x.keys.filter((k) => k !== key);
      writeIndex([...all.filter((x) => x.keys.length), entry]);
      return entry;
    },
    drop: () => removeBytes(entry),
  };
}

/** Take the content hash of a downloaded entry (after it is in use) and merge duplicates. */
export async function settle(entry) {
  if (entry.hash) return entry;
  const blob = await blobOf(entry);
  if (!blob) return entry;
  entry.hash = await sha256(blob);
  return commit(entry);
}

/** {usage, quota} of this origin, or null. */
export async function estimate() {
  try {
    return navigator.storage?.estimate ? await navigator.storage.estimate() : null;
  } catch {
    return null;
  }
}

/** Ask the browser not to evict what is kept; drop the caches of older versions. */
export async function tidy() {
  navigator.storage?.persist?.().catch(() => {});
  if (hasCaches) for (const k of OLD_CACHES) caches.delete(k).catch(() => {});
}
