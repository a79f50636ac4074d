// Notice proof files (C2SP tlog-proof@v1, Candor's entry in the `extra` line) checked in the
// browser with WebCrypto: the same checks as `candor log verify-proof` (crates/candor-log:
// proof.rs, note.rs, checkpoint.rs, merkle.rs): the verifier key's id, the checkpoint's
// Ed25519 signature by that key, its origin = the key name, and the entry's inclusion under
// the checkpoint's root (RFC 9162).

const HEADER = 'c2sp.org/tlog-proof@v1';
const SIG_PREFIX = '\u2014 ';

export class ProofError extends Error {}

function fail(what, msg) {
  throw new ProofError(what + ': ' + msg);
}

export function b64decode(s, what) {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) fail(what, 'bad base64');
  let bin;
  try {
    bin = atob(s);
  } catch (_) {
    fail(what, 'bad base64');
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export async function sha256(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const buf = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    buf.set(p, o);
    o += p.length;
  }
  return new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
}

const enc = new TextEncoder();

function canonicalU64(s) {
  if (!/^(0|[1-9][0-9]{0,19})$/.test(s)) return null;
  const v = BigInt(s);
  return v < 2n ** 64n ? v : null;
}

// `name+keyid+base64(0x01 || key)`.
export async function parseVerifier(text) {
  const W = 'verifier key';
  const t = text.trim();
  const parts = t.split('+');
  if (parts.length < 3) fail(W, 'expected name+keyid+key');
  const name = parts[0];
  const hex = parts[1];
  const raw = b64decode(parts.slice(2).join('+'), W);
  if (!name || /\s/.test(name)) fail(W, 'invalid key name');
  if (!/^[0-9a-fA-F]{8}$/.test(hex)) fail(W, 'key ID must be 8 hex digits');
  if (raw[0] !== 0x01) fail(W, 'unknown signature type');
  const pk = raw.slice(1);
  if (pk.length !== 32) fail(W, 'Ed25519 public key must be 32 bytes');
  const d = await sha256(enc.encode(name), new Uint8Array([0x0a, 0x01]), pk);
  const id = ((d[0] << 24) | (d[1] << 16) | (d[2] << 8) | d[3]) >>> 0;
  if (id !== parseInt(hex, 16)) fail(W, 'key ID does not match name and key');
  let key;
  try {
    key = await crypto.subtle.importKey('raw', pk, { name: 'Ed25519' }, false, ['verify']);
  } catch (e) {
    fail(W, 'not an Ed25519 public key (' + e.message + ')');
  }
  return { name, id, key };
}

export function parseProof(text) {
  const W = 'proof file';
  let rest = text;
  const next = () => {
    const i = rest.indexOf('\n');
    if (i < 0) fail(W, 'truncated');
    const line = rest.slice(0, i);
    rest = rest.slice(i + 1);
    return line;
  };
  if (next() !== HEADER) fail(W, 'first line is not ' + HEADER);
  let line = next();
  let extra = null;
  if (line.startsWith('extra ')) {
    extra = b64decode(line.slice(6), W + ' extra');
    line = next();
  }
  if (!line.startsWith('index ')) fail(W, 'missing index line');
  const index = canonicalU64(line.slice(6));
  if (index === null) fail(W, 'bad index ' + JSON.stringify(line.slice(6)));
  const proof = [];
  for (;;) {
    const l = next();
    if (l === '') break;
    if (proof.length === 63) fail(W, 'too many proof lines');
    const h = b64decode(l, W);
    if (h.length !== 32) fail(W, 'hash is not 32 bytes');
    proof.push(h);
  }
  if (rest === '') fail(W, 'missing checkpoint');
  return { extra, index, proof, checkpoint: rest };
}

// Signed note: text, blank line, signature lines; verified with the one key.
async function openNote(msg, v) {
  const W = 'note';
  for (const ch of msg) if (ch < ' ' && ch !== '\n') fail(W, 'control character');
  const split = msg.lastIndexOf('\n\n');
  if (split < 0) fail(W, 'no blank line before the signatures');
  const text = msg.slice(0, split + 1);
  const sigs = msg.slice(split + 2);
  if (sigs === '') fail(W, 'no signature lines');
  if (!sigs.endsWith('\n')) fail(W, 'must end with a newline');
  let verified = false;
  for (const line of sigs.slice(0, -1).split('\n')) {
    if (!line.startsWith(SIG_PREFIX)) fail(W, 'signature line must start with an em dash and a space');
    const body = line.slice(SIG_PREFIX.length);
    const sp = body.indexOf(' ');
    if (sp < 0) fail(W, 'signature line without signature');
    const name = body.slice(0, sp);
    const raw = b64decode(body.slice(sp + 1), W);
    if (raw.length < 5) fail(W, 'signature too short');
    const id = ((raw[0] << 24) | (raw[1] << 16) | (raw[2] << 8) | raw[3]) >>> 0;
    if (name !== v.name || id !== v.id) continue;
    if (verified) fail(W, 'duplicate signature by ' + name);
    const ok = await crypto.subtle.verify({ name: 'Ed25519' }, v.key, raw.slice(4), enc.encode(text));
    if (!ok) fail('checkpoint', 'invalid signature by ' + name);
    verified = true;
  }
  if (!verified) fail('checkpoint', 'no signature by the given key');
  return text;
}

function parseCheckpoint(text) {
  const W = 'checkpoint';
  if (!text.endsWith('\n')) fail(W, 'must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) fail(W, 'fewer than three lines');
  if (lines.some((l) => l === '')) fail(W, 'empty line');
  const size = canonicalU64(lines[1]);
  if (size === null) fail(W, 'bad tree size');
  const root = b64decode(lines[2], W);
  if (root.length !== 32) fail(W, 'hash is not 32 bytes');
  return { origin: lines[0], size, root, extensions: lines.slice(3) };
}

// RFC 9162 §2.1.3.2, as merkle.rs root_from_inclusion.
async function rootFromInclusion(leaf, index, size, proof) {
  if (index >= size) fail('inclusion', `index ${index} is not below the tree size ${size}`);
  let fn = index;
  let sn = size - 1n;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0n) fail('inclusion', 'the proof does not match the checkpoint root');
    if ((fn & 1n) === 1n || fn === sn) {
      r = await sha256(new Uint8Array([1]), p, r);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      r = await sha256(new Uint8Array([1]), r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) fail('inclusion', 'the proof is too short for this tree');
  return r;
}

function equal(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

// Everything `candor log verify-proof` checks. Resolves to what the file establishes, or
// rejects with a ProofError that says what failed.
export async function verifyProof(text, keyText) {
  const v = await parseVerifier(keyText);
  const file = parseProof(text);
  if (!file.extra) fail('proof file', 'no entry (extra line)');
  const cpText = await openNote(file.checkpoint, v);
  const cp = parseCheckpoint(cpText);
  if (cp.origin !== v.name) fail('checkpoint', `origin ${JSON.stringify(cp.origin)} is not the key name`);
  const leaf = await sha256(new Uint8Array([0]), file.extra);
  const got = await rootFromInclusion(leaf, file.index, cp.size, file.proof);
  if (!equal(got, cp.root)) fail('inclusion', 'the proof does not match the checkpoint root');
  const hex = Array.from(leaf, (b) => b.toString(16).padStart(2, '0')).join('');
  return { index: file.index, size: cp.size, origin: cp.origin, leafHash: hex, entryBytes: file.extra.length };
}
