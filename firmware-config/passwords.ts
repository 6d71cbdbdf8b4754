import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

// Password hashes in the store file (firmware-config/README.md "Passwords"): scrypt in PHC
// string form, `$scrypt$ln=15,r=8,p=1$<salt>$<hash>`, salt and hash in unpadded base64.
// The store file never holds a plain password; dashboard users and node logins store these.

const LN = 15; // N = 2^15: about 32 MiB and 50-100 ms on a Pi 4, per hash
const R = 8;
const P = 1;
const SALT_BYTES = 16;
const KEY_BYTES = 32;

/** Bounds a hash must keep so that checking it cannot exhaust the hub's memory. */
const LIMITS = { ln: [10, 20], r: [1, 32], p: [1, 16], saltBytes: 8, keyBytes: 16 } as const;

const B64 = '[A-Za-z0-9+/]+';
const PHC_RE = new RegExp(`^\\$scrypt\\$ln=(\\d{1,2}),r=(\\d{1,3}),p=(\\d{1,3})\\$(${B64})={0,2}\\$(${B64})={0,2}$`);

export interface ScryptHash {
  ln: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

/** The parts of a PHC scrypt string, or why it is not one. */
export function parsePhc(phc: string): { ok: true; value: ScryptHash } | { ok: false; reason: string } {
  const m = PHC_RE.exec(phc);
  if (!m) return { ok: false, reason: 'not in the form $scrypt$ln=<n>,r=<r>,p=<p>$<salt>$<hash>' };
  const [ln, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const within = (v: number, [lo, hi]: readonly [number, number]) => v >= lo && v <= hi;
  if (!within(ln, LIMITS.ln)) return { ok: false, reason: `ln=${ln} is outside ${LIMITS.ln.join('-')}` };
  if (!within(r, LIMITS.r)) return { ok: false, reason: `r=${r} is outside ${LIMITS.r.join('-')}` };
  if (!within(p, LIMITS.p)) return { ok: false, reason: `p=${p} is outside ${LIMITS.p.join('-')}` };
  const salt = Buffer.from(m[4]!, 'base64');
  const hash = Buffer.from(m[5]!, 'base64');
  if (salt.length < LIMITS.saltBytes) return { ok: false, reason: `the salt is shorter than ${LIMITS.saltBytes} bytes` };
  if (hash.length < LIMITS.keyBytes) return { ok: false, reason: `the hash is shorter than ${LIMITS.keyBytes} bytes` };
  return { ok: true, value: { ln, r, p, salt, hash } };
}

function derive(password: string, salt: Buffer, keyLen: number, ln: number, r: number, p: number): Promise<Buffer> {
  const N = 2 ** ln;
  // scrypt needs 128·N·r bytes (plus a little); Node's default maxmem of 32 MiB is just short for ln=15
  const opts: ScryptOptions = { N, r, p, maxmem: 128 * N * r * 2 + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keyLen, opts, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');

/** `$scrypt$ln=15,r=8,p=1$<salt>$<hash>` with a fresh 16-byte salt and a 32-byte key. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, KEY_BYTES, LN, R, P);
  return `$scrypt$ln=${LN},r=${R},p=${P}$${b64(salt)}$${b64(key)}`;
}

/** True when `password` hashes to `phc`; false for a wrong password and for anything that is not a valid hash. */
export async function verifyPassword(password: string, phc: string): Promise<boolean> {
  const parsed = parsePhc(phc);
  if (!parsed.ok) return false;
  const { ln, r, p, salt, hash } = parsed.value;
  try {
    const key = await derive(password, salt, hash.length, ln, r, p);
    return timingSafeEqual(key, hash);
  } catch {
    return false;
  }
}

/** A node's MQTT password for its bootstrap file: 24 random bytes, base64url (32 characters). */
export function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}
