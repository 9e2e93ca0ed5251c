// fuzz_convert.test.mjs — property and fuzz tests (fast-check) of the
// converter's readers and writer (js/convert/): safetensors, SentencePiece
// protobuf, GGUF.
//  - round trips: what a small independent writer (safetensors, protobuf)
//    encodes, the reader gives back exactly; what GGUFWriter writes, an
//    independent GGUF reader (below, from the GGUF specification) reads back
//    exactly, aligned as the specification says;
//  - hostile bytes (random, and damaged valid files): the reader returns
//    something self-consistent (every tensor inside the file, sizes that
//    match) or throws an Error whose message is one line naming the format
//    ("safetensors: ...", "spm: ...") — never a TypeError/RangeError from
//    deep inside.
// Seeded: FUZZ_SEED picks another seed ('random': from the clock), FUZZ_RUNS
// more runs (npm run fuzz runs them with a random seed); a failure prints the seed and the shrunk
// counterexample.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { readSafetensors, tensorF32 } from '../../js/convert/safetensors.js';
import { parseSpm } from '../../js/convert/spm.js';
import { GGUFWriter, T } from '../../js/convert/gguf_writer.js';

const seed = process.env.FUZZ_SEED === 'random' ? (Date.now() % 2 ** 31) : process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : 20261207;
if (seed !== 20261207) console.log(`fuzz_convert: seed ${seed}`);
const runs = (n) => (process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : n);
const params = (n) => ({ seed, numRuns: runs(n), endOnFailure: true });
const enc = new TextEncoder();

/** A thrown error must be an Error with a one-line message starting with `prefix`. */
function expectCleanError(e, prefix) {
  assert.ok(e instanceof Error, `threw a non-Error: ${e}`);
  assert.ok(!(e instanceof TypeError || e instanceof RangeError || e instanceof SyntaxError),
    `threw ${e.constructor.name}: ${e.message}`);
  assert.ok(e.message.startsWith(prefix), `message "${e.message}" does not start with "${prefix}"`);
  assert.ok(!e.message.includes('\n'), `message is not one line: ${JSON.stringify(e.message)}`);
}

/** Mutations of a valid file: flip, overwrite, insert, delete bytes, truncate. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip'), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('set'), at: fc.nat(), byte: fc.nat(255) }),
  fc.record({ kind: fc.constant('insert'), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('delete'), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('truncate'), at: fc.nat() }),
);
function mutate(bytes, muts) {
  let b = Uint8Array.from(bytes);
  for (const m of muts) {
    if (!b.length) break;
    const at = m.at % b.length;
    if (m.kind === 'flip') b[at] ^= 1 << m.bit;
    else if (m.kind === 'set') b[at] = m.byte;
    else if (m.kind === 'insert') b = Uint8Array.from([...b.subarray(0, at), ...m.bytes, ...b.subarray(at)]);
    else if (m.kind === 'delete') b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + m.n)]);
    else b = b.slice(0, at);
  }
  return b;
}

// ---- safetensors -------------------------------------------------------------

const SIZE = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

/** A safetensors file from {name: {dtype, shape, data}} (an independent writer). */
function writeSafetensors(tensors, { metadata = null, pad = 0 } = {}) {
  const header = Object.create(null); // a tensor may be called "__proto__"
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.data.length] };
    off += t.data.length;
  }
  const json = enc.encode(JSON.stringify(header) + ' '.repeat(pad));
  const out = new Uint8Array(8 + json.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let o = 8 + json.length;
  for (const t of Object.values(tensors)) { out.set(t.data, o); o += t.data.length; }
  return out;
}

const tensorArb = fc.record({
  dtype: fc.constantFrom(...Object.keys(SIZE)),
  shape: fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 3 }),
}).chain(({ dtype, shape }) => {
  const n = shape.reduce((a, b) => a * b, 1) * SIZE[dtype];
  return fc.uint8Array({ minLength: n, maxLength: n }).map((data) => ({ dtype, shape, data }));
});
const tensorsArb = fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }).filter((s) => s !== '__metadata__'), tensorArb, { maxKeys: 5 });

test('safetensors: what a writer encodes, readSafetensors and tensorF32 give back exactly', () => {
  fc.assert(fc.property(tensorsArb, fc.option(fc.dictionary(fc.string(), fc.string())), fc.nat(16), (tensors, metadata, pad) => {
    const bytes = writeSafetensors(tensors, { metadata, pad });
    const got = readSafetensors(bytes);
    assert.deepEqual([...got.keys()].sort(), Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      const info = got.get(name);
      assert.equal(info.dtype, t.dtype);
      assert.deepEqual(info.shape, t.shape);
      assert.deepEqual(bytes.subarray(info.begin, info.end), t.data);
      if (['F32', 'F16', 'BF16', 'F64'].includes(t.dtype)) {
        const v = tensorF32(bytes, info, name);
        assert.equal(v.length, t.shape.reduce((a, b) => a * b, 1));
        if (t.dtype === 'F32') {
          const ref = new Float32Array(Uint8Array.from(t.data).buffer);
          for (let i = 0; i < v.length; i++) assert.ok(Object.is(v[i], ref[i]) || (Number.isNaN(v[i]) && Number.isNaN(ref[i])));
        }
      }
    }
  }), params(300));
});

/** Any result of readSafetensors must describe tensors that lie inside the file with the right sizes. */
function checkSafetensorsResult(bytes, got) {
  for (const [name, info] of got) {
    const count = info.shape.reduce((a, b) => a * b, 1);
    assert.ok(info.begin >= 8 && info.begin <= info.end && info.end <= bytes.length, `${name} outside the file`);
    assert.equal(info.end - info.begin, count * SIZE[info.dtype], `${name}: size`);
    if (['F32', 'F16', 'BF16', 'F64'].includes(info.dtype)) tensorF32(bytes, info, name);
  }
}

test('safetensors: damaged files and hostile headers give a result inside the file or a clean "safetensors:" error', () => {
  const header = fc.oneof(
    fc.jsonValue(),
    fc.dictionary(fc.string({ maxLength: 6 }), fc.record({
      dtype: fc.oneof(fc.constantFrom(...Object.keys(SIZE), 'toString', '__proto__', 'constructor', 'Q8'), fc.jsonValue()),
      shape: fc.oneof(fc.array(fc.oneof(fc.integer({ min: -2, max: 2 ** 31 }), fc.constant(2 ** 53), fc.double()), { maxLength: 4 }), fc.jsonValue()),
      data_offsets: fc.oneof(fc.array(fc.oneof(fc.integer({ min: -4, max: 4096 }), fc.constant(2 ** 53 + 2)), { maxLength: 3 }), fc.jsonValue()),
    }, { requiredKeys: [] }), { maxKeys: 4 }),
  );
  fc.assert(fc.property(header, fc.uint8Array({ maxLength: 256 }), fc.array(mutation, { maxLength: 3 }), (h, data, muts) => {
    const json = enc.encode(JSON.stringify(h) ?? 'null');
    let bytes = new Uint8Array(8 + json.length + data.length);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
    bytes.set(json, 8);
    bytes.set(data, 8 + json.length);
    bytes = mutate(bytes, muts);
    let got;
    try { got = readSafetensors(bytes); } catch (e) { expectCleanError(e, 'safetensors:'); return; }
    checkSafetensorsResult(bytes, got);
  }), params(1500));
  fc.assert(fc.property(tensorsArb, fc.array(mutation, { minLength: 1, maxLength: 4 }), (tensors, muts) => {
    const bytes = mutate(writeSafetensors(tensors), muts);
    let got;
    try { got = readSafetensors(bytes); } catch (e) { expectCleanError(e, 'safetensors:'); return; }
    checkSafetensorsResult(bytes, got);
  }), params(1500));
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
    try { checkSafetensorsResult(bytes, readSafetensors(bytes)); } catch (e) { expectCleanError(e, 'safetensors:'); }
  }), params(500));
});

// ---- SentencePiece protobuf ------------------------------------------------

function pbVarint(v) {
  let x = BigInt.asUintN(64, BigInt(v));
  const out = [];
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x) b |= 0x80;
    out.push(b);
  } while (x);
  return out;
}
const pbKey = (fn, wt) => pbVarint((fn << 3) | wt);
const pbBytes = (fn, b) => [...pbKey(fn, 2), ...pbVarint(b.length), ...b];
const pbInt = (fn, v) => [...pbKey(fn, 0), ...pbVarint(v)];
const pbF32 = (fn, x) => { const b = new Uint8Array(4); new DataView(b.buffer).setFloat32(0, x, true); return [...pbKey(fn, 5), ...b]; };

/** A ModelProto from an info object like parseSpm's (an independent encoder). */
function writeSpm(m) {
  const out = [];
  for (const [piece, score, type] of m.pieces) out.push(...pbBytes(1, [...pbBytes(1, enc.encode(piece)), ...pbF32(2, score), ...pbInt(3, type)]));
  const trainer = [...pbInt(3, m.modelTypeId), ...pbInt(35, m.byteFallback ? 1 : 0), ...pbInt(24, 0),
    ...pbInt(40, m.unkId), ...pbInt(41, m.bosId), ...pbInt(42, m.eosId), ...pbInt(43, m.padId)];
  const norm = [...pbBytes(1, enc.encode(m.normalizerName)), ...pbBytes(2, m.charsmap), ...pbInt(3, m.addDummyPrefix ? 1 : 0),
    ...pbInt(4, m.removeExtraWhitespaces ? 1 : 0), ...pbInt(5, m.escapeWhitespaces ? 1 : 0)];
  // fields in a shuffled-by-design order: normalizer first, unknown field 99 in between
  return Uint8Array.from([...pbBytes(3, norm), ...pbInt(99, 7), ...pbBytes(2, trainer), ...out]);
}

const spmArb = fc.record({
  pieces: fc.array(fc.tuple(fc.string({ unit: 'binary', maxLength: 8 }), fc.float({ noNaN: true }), fc.integer({ min: 1, max: 6 })), { minLength: 1, maxLength: 20 }),
  modelTypeId: fc.constantFrom(1, 2),
  byteFallback: fc.boolean(),
  unkId: fc.integer({ min: -1, max: 30 }), bosId: fc.integer({ min: -1, max: 30 }),
  eosId: fc.integer({ min: -1, max: 30 }), padId: fc.integer({ min: -1, max: 30 }),
  normalizerName: fc.constantFrom('nmt_nfkc', 'identity', 'nfkc_cf'),
  charsmap: fc.uint8Array({ maxLength: 32 }),
  addDummyPrefix: fc.boolean(), removeExtraWhitespaces: fc.boolean(), escapeWhitespaces: fc.boolean(),
});

test('spm: what a protobuf encoder writes, parseSpm gives back exactly', () => {
  fc.assert(fc.property(spmArb, (m) => {
    const info = parseSpm(writeSpm(m));
    assert.equal(info.pieces.length, m.pieces.length);
    m.pieces.forEach(([piece, score, type], i) => {
      assert.equal(info.pieces[i][0], piece);
      assert.ok(Object.is(info.pieces[i][1], Math.fround(score)), `score ${info.pieces[i][1]} vs ${score}`);
      assert.equal(info.pieces[i][2], type);
    });
    assert.equal(info.modelType, m.modelTypeId === 1 ? 'unigram' : 'bpe');
    for (const k of ['byteFallback', 'unkId', 'bosId', 'eosId', 'padId', 'normalizerName', 'addDummyPrefix',
      'removeExtraWhitespaces', 'escapeWhitespaces']) assert.equal(info[k], m[k], k);
    assert.deepEqual(Uint8Array.from(info.charsmap), m.charsmap);
    assert.equal(info.suffix, false);
  }), params(300));
});

test('spm: random and damaged protobuf bytes give a model or a clean "spm:" error', () => {
  const check = (bytes) => {
    let info;
    try { info = parseSpm(bytes); } catch (e) { expectCleanError(e, 'spm:'); return; }
    assert.ok(info.pieces.length > 0);
    for (const [piece, score, type] of info.pieces) {
      assert.equal(typeof piece, 'string');
      assert.equal(typeof score, 'number');
      assert.ok(Number.isFinite(type) || Number.isNaN(type) === false);
    }
  };
  fc.assert(fc.property(spmArb, fc.array(mutation, { minLength: 1, maxLength: 4 }), (m, muts) => check(mutate(writeSpm(m), muts))), params(2000));
  fc.assert(fc.property(fc.uint8Array({ maxLength: 96 }), check), params(2000));
});

// ---- GGUF writer --------------------------------------------------------------

/** An independent GGUF reader (GGUF v3 specification): {version, kv: Map, tensors: [], dataStart}. */
function readGguf(b) {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const dec = new TextDecoder('utf-8', { fatal: true });
  let o = 0;
  const u32 = () => { const v = dv.getUint32(o, true); o += 4; return v; };
  const u64 = () => { const v = dv.getBigUint64(o, true); o += 8; return v; };
  const str = () => { const n = Number(u64()); const s = dec.decode(b.subarray(o, o + n)); o += n; return s; };
  const scalar = (t) => {
    let v;
    switch (t) {
      case T.UINT8: v = dv.getUint8(o); o += 1; break;
      case T.INT8: v = dv.getInt8(o); o += 1; break;
      case T.UINT16: v = dv.getUint16(o, true); o += 2; break;
      case T.INT16: v = dv.getInt16(o, true); o += 2; break;
      case T.UINT32: v = dv.getUint32(o, true); o += 4; break;
      case T.INT32: v = dv.getInt32(o, true); o += 4; break;
      case T.FLOAT32: v = dv.getFloat32(o, true); o += 4; break;
      case T.BOOL: v = dv.getUint8(o) !== 0; o += 1; break;
      case T.UINT64: v = dv.getBigUint64(o, true); o += 8; break;
      case T.INT64: v = dv.getBigInt64(o, true); o += 8; break;
      case T.FLOAT64: v = dv.getFloat64(o, true); o += 8; break;
      case T.STRING: v = str(); break;
      default: throw new Error(`bad type ${t}`);
    }
    return v;
  };
  assert.equal(dec.decode(b.subarray(0, 4)), 'GGUF');
  o = 4;
  const version = u32();
  const nT = Number(u64());
  const nKv = Number(u64());
  const kv = new Map();
  for (let i = 0; i < nKv; i++) {
    const key = str();
    const t = u32();
    if (t === T.ARRAY) {
      const et = u32();
      const n = Number(u64());
      kv.set(key, { type: t, elemType: et, value: Array.from({ length: n }, () => scalar(et)) });
    } else kv.set(key, { type: t, value: scalar(t) });
  }
  const align = kv.has('general.alignment') ? kv.get('general.alignment').value : 32;
  const tensors = [];
  for (let i = 0; i < nT; i++) {
    const name = str();
    const nd = u32();
    const ne = Array.from({ length: nd }, () => Number(u64()));
    tensors.push({ name, ne, type: u32(), offset: Number(u64()) });
  }
  const dataStart = Math.ceil(o / align) * align;
  return { version, kv, tensors, dataStart, align };
}

const RANGE = {
  [T.UINT8]: fc.nat(255), [T.INT8]: fc.integer({ min: -128, max: 127 }), [T.UINT16]: fc.nat(65535),
  [T.INT16]: fc.integer({ min: -32768, max: 32767 }), [T.UINT32]: fc.nat(2 ** 32 - 1),
  [T.INT32]: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), [T.FLOAT32]: fc.float({ noNaN: true }),
  [T.BOOL]: fc.boolean(), [T.UINT64]: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  [T.INT64]: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), [T.FLOAT64]: fc.double({ noNaN: true }),
  [T.STRING]: fc.string({ unit: 'grapheme', maxLength: 10 }),
};
const scalarType = fc.constantFrom(...Object.keys(RANGE).map(Number));
const kvArb = fc.oneof(
  scalarType.chain((t) => RANGE[t].map((v) => ({ type: t, value: v }))),
  scalarType.chain((et) => fc.array(RANGE[et], { maxLength: 6 }).map((v) => ({ type: T.ARRAY, elemType: et, value: v }))),
);
const ggufArb = fc.record({
  kv: fc.uniqueArray(fc.tuple(fc.string({ minLength: 1, maxLength: 16 }).filter((k) => k !== 'general.alignment'), kvArb),
    { selector: (e) => e[0], maxLength: 8 }),
  tensors: fc.uniqueArray(fc.record({
    name: fc.string({ minLength: 1, maxLength: 12 }),
    ne: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }),
    type: fc.nat(40),
    data: fc.uint8Array({ maxLength: 70 }),
  }), { selector: (t) => t.name, maxLength: 5 }),
  alignment: fc.constantFrom(32, 1, 8, 64),
});

test('GGUFWriter: an independent GGUF reader reads back every key, value and tensor, aligned', () => {
  fc.assert(fc.property(ggufArb, (g) => {
    const w = new GGUFWriter(g.alignment);
    if (g.alignment !== 32) w.add('general.alignment', T.UINT32, g.alignment);
    for (const [k, e] of g.kv) w.add(k, e.type, e.value, e.elemType);
    for (const t of g.tensors) w.addTensor(t.name, t.ne, t.type, t.data);
    const bytes = w.toBytes();
    const r = readGguf(bytes);
    assert.equal(r.version, 3);
    assert.equal(r.align, g.alignment);
    assert.equal(bytes.length % g.alignment, 0);
    for (const [k, e] of g.kv) {
      const got = r.kv.get(k);
      assert.equal(got.type, e.type, k);
      const norm = (t, v) => (t === T.FLOAT32 ? Math.fround(v) : t === T.UINT64 ? BigInt.asUintN(64, v) : v);
      if (e.type === T.ARRAY) {
        assert.equal(got.elemType, e.elemType);
        assert.deepEqual(got.value, e.value.map((v) => norm(e.elemType, v)), k);
      } else assert.deepEqual(got.value, norm(e.type, e.value), k);
    }
    assert.equal(r.tensors.length, g.tensors.length);
    g.tensors.forEach((t, i) => {
      const rt = r.tensors[i];
      assert.equal(rt.name, t.name);
      assert.deepEqual(rt.ne, t.ne);
      assert.equal(rt.type, t.type);
      assert.equal(rt.offset % g.alignment, 0, 'tensor offset aligned');
      assert.deepEqual(bytes.subarray(r.dataStart + rt.offset, r.dataStart + rt.offset + t.data.length), t.data);
    });
  }), params(300));
});
