// bytes.js — showing bytes that may not be whole UTF-8 characters.

const utf8dec = new TextDecoder('utf-8');

// A token's bytes as text, with the bytes that are not whole UTF-8
// characters (a token may hold part of one) written \xE2 instead of '\uFFFD'.
export function readableBytes(u8) {
  let out = '';
  let i = 0;
  while (i < u8.length) {
    const c = u8[i];
    const n = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    let ok = n > 0 && i + n <= u8.length;
    for (let k = 1; ok && k < n; k++) ok = (u8[i + k] & 0xC0) === 0x80;
    if (ok && n > 1) {
      const s = utf8dec.decode(u8.subarray(i, i + n));
      ok = !s.includes('\uFFFD');
      if (ok) { out += s; i += n; continue; }
    }
    if (ok) { out += String.fromCharCode(c); i += 1; continue; }
    out += `\\x${c.toString(16).toUpperCase().padStart(2, '0')}`;
    i += 1;
  }
  return out;
}
