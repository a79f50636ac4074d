// The log's entries, read the way an auditor's own tool reads them: C2SP tlog-tiles entry
// bundles and level-0 hash tiles from /log/tile (public, no token), each entry checked against
// its leaf hash in the tile (SHA-256 of 0x00 || entry, RFC 6962). Nothing here trusts a JSON
// summary from the server.

import { sha256 } from './proof.js';

// `n` as 3-digit groups, all but the last prefixed `x`: 1234067 → `x001/x234/067`.
export function encodeIndex(n) {
  let s = String(n % 1000).padStart(3, '0');
  n = Math.floor(n / 1000);
  while (n > 0) {
    s = 'x' + String(n % 1000).padStart(3, '0') + '/' + s;
    n = Math.floor(n / 1000);
  }
  return s;
}

async function bytes(path) {
  let r;
  try {
    r = await fetch(path, { credentials: 'omit', cache: 'no-store' });
  } catch (e) {
    throw new Error('the log could not be reached: ' + e.message);
  }
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

// An entry bundle: each entry as a big-endian u16 length and its bytes.
export function parseBundle(b) {
  const out = [];
  let i = 0;
  while (i < b.length) {
    if (i + 2 > b.length) throw new Error('bundle: a truncated length');
    const n = (b[i] << 8) | b[i + 1];
    i += 2;
    if (i + n > b.length) throw new Error('bundle: a truncated entry');
    out.push(b.subarray(i, i + n));
    i += n;
  }
  return out;
}

// RFC 6962 leaf hash, as the proof check computes it.
const leafHash = (entry) => sha256(new Uint8Array([0]), entry);

const dec = new TextDecoder('utf-8', { fatal: true });

// Bundle `n` of a log of `size` entries: [{index, entry (parsed JSON)}], each checked against
// the hash tile. Throws on any mismatch.
export async function readBundle(n, size) {
  const width = Math.min(256, size - n * 256);
  if (width <= 0) return [];
  const suffix = width < 256 ? `.p/${width}` : '';
  const [bundle, tile] = await Promise.all([
    bytes(`/log/tile/entries/${encodeIndex(n)}${suffix}`),
    bytes(`/log/tile/0/${encodeIndex(n)}${suffix}`),
  ]);
  const entries = parseBundle(bundle);
  if (entries.length !== width) throw new Error(`bundle ${n}: ${entries.length} entries, wanted ${width}`);
  if (tile.length !== 32 * width) throw new Error(`hash tile ${n}: ${tile.length} bytes, wanted ${32 * width}`);
  const out = [];
  for (let i = 0; i < width; i++) {
    const h = await leafHash(entries[i]);
    const want = tile.subarray(32 * i, 32 * i + 32);
    if (!h.every((x, k) => x === want[k])) throw new Error(`entry ${n * 256 + i} does not match its leaf hash`);
    let entry;
    try {
      entry = JSON.parse(dec.decode(entries[i]));
    } catch (e) {
      throw new Error(`entry ${n * 256 + i} is not JSON: ${e.message}`);
    }
    out.push({ index: n * 256 + i, entry });
  }
  return out;
}

// The log size from a checkpoint's text (its second line).
export function sizeOf(checkpointText) {
  const line = (checkpointText.split('\n')[1] || '').trim();
  if (!/^(0|[1-9][0-9]*)$/.test(line)) throw new Error('the checkpoint has no size line');
  return Number(line);
}

// One line about an entry, in the log's own words.
export function summary(e) {
  const skip = new Set(['v', 'type', 'time']);
  const parts = [];
  for (const [k, v] of Object.entries(e)) {
    if (skip.has(k) || v === null || v === undefined || v === '') continue;
    if (/commitment$|_hash$/.test(k)) continue;
    const s = Array.isArray(v) ? v.join(' ') : typeof v === 'object' ? JSON.stringify(v) : String(v);
    parts.push(`${k}: ${s.length > 40 ? s.slice(0, 39) + '…' : s}`);
  }
  return parts.join(' · ');
}
