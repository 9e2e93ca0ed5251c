// safetensors.js — read a .safetensors file: an 8-byte little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets}}, then raw
// little-endian tensor bytes. Every offset and size is checked.

/** Parse the header. Returns Map name -> {dtype, shape, begin, end} (absolute byte offsets). */
export function readSafetensors(bytes) {
  if (bytes.length < 8) throw new Error('safetensors: file too short');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (n < 2 || n > bytes.length - 8 || n > 100 * 2 ** 20) throw new Error(`safetensors: bad header length ${n}`);
  let header;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw new Error(`safetensors: the header is not valid JSON (${e.message.replace(/\s+/g, ' ')})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new Error('safetensors: the header is not an object');
  const base = 8 + n;
  const out = new Map();
  const size = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
  for (const [key, info] of Object.entries(header)) {
    if (key === '__metadata__') continue;
    const name = JSON.stringify(key); // for messages: quoted, escapes shown, one line
    const { dtype, shape, data_offsets: off } = info || {};
    if (!Object.hasOwn(size, dtype)) throw new Error(`safetensors: tensor ${name} has unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new Error(`safetensors: tensor ${name} has a bad shape`);
    if (!Array.isArray(off) || off.length !== 2 || !off.every(Number.isSafeInteger)) throw new Error(`safetensors: tensor ${name} has bad data_offsets`);
    const count = shape.reduce((a, b) => a * b, 1);
    const begin = base + off[0];
    const end = base + off[1];
    if (off[0] < 0 || off[1] < off[0] || end > bytes.length) throw new Error(`safetensors: tensor ${name} lies outside the file`);
    if (end - begin !== count * size[dtype]) throw new Error(`safetensors: tensor ${name}: ${end - begin} bytes for ${count} ${dtype} values`);
    out.set(key, { dtype, shape, begin, end });
  }
  return out;
}

/** A tensor's values as a Float32Array (F32, F16, BF16, F64). */
export function tensorF32(bytes, info, name = '') {
  const n = info.shape.reduce((a, b) => a * b, 1);
  const dv = new DataView(bytes.buffer, bytes.byteOffset + info.begin, info.end - info.begin);
  const out = new Float32Array(n);
  switch (info.dtype) {
    case 'F32': for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true); break;
    case 'F64': for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, true); break;
    case 'F16': for (let i = 0; i < n; i++) out[i] = f16ToF32(dv.getUint16(2 * i, true)); break;
    case 'BF16': {
      const tmp = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < n; i++) { tmp.setUint32(0, dv.getUint16(2 * i, true) << 16); out[i] = tmp.getFloat32(0); }
      break;
    }
    default: throw new Error(`safetensors: tensor ${name} has dtype ${info.dtype}, expected a float type`);
  }
  return out;
}

export function f16ToF32(h) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
