/**
 * Secret outputs at rest: AES-256-GCM with a key derived from PGSTACKS_STATE_KEY, or plain (in a
 * 0600 file) when no key is set. Also the fingerprints that tell whether a secret input changed
 * since the last apply without storing it.
 *
 * A state key that is 256 random bits (`openssl rand -base64 32`, or `-hex 32`) needs no
 * stretching: HKDF derives the sealing key from it. Any other value is a passphrase, stretched by
 * scrypt, which is slow on purpose (~40 ms of CPU); so one engine run derives each key once:
 * records sealed in one run share its salt, and derived keys and fingerprints are memoized per
 * process. Each sealed value, key check and keyed fingerprint names its derivation, so a stack
 * sealed under a passphrase's derivation still opens.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';

/** How a sealing key is derived from the state key. */
export type Kdf = 'scrypt' | 'hkdf-sha256';

export type SealedSecrets =
  | { readonly encrypted: false; readonly values: Record<string, string> }
  | {
      readonly encrypted: true;
      /** The names are not secret; listing them lets tools mask values without the key. */
      readonly names: readonly string[];
      readonly alg: 'aes-256-gcm';
      readonly kdf: Kdf;
      readonly salt: string;
      readonly iv: string;
      readonly tag: string;
      readonly data: string;
    };

export const STATE_KEY_VARIABLE = 'PGSTACKS_STATE_KEY';

/**
 * The derivations of this process: derived keys, those under way, and the run's salt. Kept under
 * a global symbol because the handler's loader starts the state key's derivation before the
 * bundle is compiled (handler-loader.ts), with its own copy of this module.
 */
interface Derivations {
  readonly derived: Map<string, Buffer>;
  /** Started on libuv's threads and not finished yet, by memo key. */
  readonly deriving: Map<string, Promise<void>>;
  salt?: Buffer;
}
const shared = ((globalThis as { [key: symbol]: unknown })[Symbol.for('pgstacks.derivations')] ??= {
  derived: new Map(),
  deriving: new Map(),
}) as Derivations;
const { derived, deriving } = shared;

const memoKey = (secret: string, salt: Buffer) => createHash('sha256').update(salt).update('\0').update(secret).digest('base64');

/** scrypt(secret, salt), memoized by a hash of both, so the secret itself is not a map key. */
function slowHash(secret: string, salt: Buffer): Buffer {
  const key = memoKey(secret, salt);
  let value = derived.get(key);
  if (!value) derived.set(key, (value = scryptSync(secret, salt, 32)));
  return value;
}

/** The salt of everything this process seals or fingerprints. */
const runSalt = () => (shared.salt ??= randomBytes(16));

/**
 * Seals and fingerprints with `salt` (base64) from now on: a stack keeps the salt of its key
 * check, so a run derives its state key once, for the check and for sealing alike.
 */
export function useSalt(salt: string): void {
  shared.salt = Buffer.from(salt, 'base64');
}

/**
 * Derives the hashes a run will need (the state key, the fingerprints of secret inputs) on
 * libuv's threads, while the main thread goes on loading the resource types; the synchronous
 * calls then find them memoized. A derivation already under way is waited for, not repeated.
 */
export function prederive(secrets: readonly string[]): Promise<void> {
  const salt = runSalt();
  return Promise.all(
    [...new Set(secrets)].map((secret) => {
      const key = memoKey(secret, salt);
      if (derived.has(key)) return undefined;
      let pending = deriving.get(key);
      if (!pending) {
        pending = new Promise<void>((resolve) =>
          scrypt(secret, salt, 32, (err, value) => {
            if (!err) derived.set(key, value);
            deriving.delete(key);
            resolve(); // on an error, the synchronous call derives it (and reports)
          }),
        );
        deriving.set(key, pending);
      }
      return pending;
    }),
  ).then(() => undefined);
}

let lastRawKey: { readonly stateKey: string; readonly bytes: Buffer | undefined } | undefined;

/** The 32 bytes a state key encodes, when it is a key rather than a passphrase (decoded once for the run's key). */
function rawKey(stateKey: string): Buffer | undefined {
  if (lastRawKey?.stateKey !== stateKey) lastRawKey = { stateKey, bytes: decodeKey(stateKey) };
  return lastRawKey.bytes;
}

/** Canonical base64 or hex of 32 bytes. */
function decodeKey(stateKey: string): Buffer | undefined {
  if (/^[0-9a-fA-F]{64}$/.test(stateKey)) return Buffer.from(stateKey, 'hex');
  if (!/^[A-Za-z0-9+/]{43}=$/.test(stateKey)) return undefined;
  const bytes = Buffer.from(stateKey, 'base64');
  return bytes.toString('base64') === stateKey ? bytes : undefined;
}

/** The derivation a state key gets from now on: HKDF for a 256-bit key, scrypt for a passphrase. */
export function kdfOf(stateKey: string): Kdf {
  return rawKey(stateKey) ? 'hkdf-sha256' : 'scrypt';
}

const HKDF_INFO = 'pgstacks state key v1';

/**
 * The sealing key under `salt`, derived as `kdf` says (what a sealed value or check recorded).
 * HKDF keys are memoized too: a run fingerprints a secret input of every resource under one salt.
 */
function deriveKey(stateKey: string, salt: Buffer, kdf: Kdf = kdfOf(stateKey)): Buffer {
  if (kdf === 'scrypt') return slowHash(stateKey, salt);
  const key = `hkdf:${memoKey(stateKey, salt)}`;
  let value = derived.get(key);
  // (A passphrase, for a value sealed under a 256-bit key, derives a key that does not open it.)
  if (!value) derived.set(key, (value = Buffer.from(hkdfSync('sha256', rawKey(stateKey) ?? stateKey, salt, HKDF_INFO, 32))));
  return value;
}

/** Whether the state key, as `recorded` (its derivation in a key check) says, needs scrypt (so it is worth deriving ahead). */
export function needsStretching(stateKey: string, recorded?: Kdf): boolean {
  return (recorded ?? kdfOf(stateKey)) === 'scrypt';
}

export function sealSecrets(values: Record<string, string>, stateKey: string | undefined): SealedSecrets {
  if (!stateKey) return { encrypted: false, values };
  const salt = runSalt();
  const iv = randomBytes(12);
  const kdf = kdfOf(stateKey);
  const cipher = createCipheriv('aes-256-gcm', deriveKey(stateKey, salt, kdf), iv);
  const data = Buffer.concat([cipher.update(JSON.stringify(values), 'utf8'), cipher.final()]);
  return {
    encrypted: true,
    names: Object.keys(values).sort(),
    alg: 'aes-256-gcm',
    kdf,
    salt: salt.toString('base64'),
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    data: data.toString('base64'),
  };
}

export function secretNames(sealed: SealedSecrets): string[] {
  return sealed.encrypted ? [...sealed.names] : Object.keys(sealed.values).sort();
}

export function openSecrets(sealed: SealedSecrets, stateKey: string | undefined): Record<string, string> {
  if (!sealed.encrypted) return sealed.values;
  if (!stateKey) {
    throw new Error(`secret outputs are encrypted: set ${STATE_KEY_VARIABLE} to the key they were written with`);
  }
  const decipher = createDecipheriv('aes-256-gcm', deriveKey(stateKey, Buffer.from(sealed.salt, 'base64'), sealed.kdf), Buffer.from(sealed.iv, 'base64'));
  decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
  try {
    const plain = Buffer.concat([decipher.update(Buffer.from(sealed.data, 'base64')), decipher.final()]);
    return JSON.parse(plain.toString('utf8')) as Record<string, string>;
  } catch {
    throw new Error(`cannot decrypt secret outputs: ${STATE_KEY_VARIABLE} is not the key they were written with`);
  }
}

const FINGERPRINT_TEXT = 'pgstacks secret input v1\0';

/**
 * A fingerprint of a secret input, which tells a later run whether the value changed without
 * storing it. With a state key: an HMAC under the key secret outputs are sealed with (derived
 * once per run, already, for sealing; `kdf` is the derivation it was recorded with), which says
 * nothing to whoever lacks the key. Without one: a slow salted hash (scrypt, ~40 ms of CPU per
 * value), so a state file does not make a weak secret guessable.
 */
export function fingerprint(value: string, salt: string, stateKey: string | undefined, kdf?: Kdf): string {
  const saltBytes = Buffer.from(salt, 'base64');
  if (stateKey) return createHmac('sha256', deriveKey(stateKey, saltBytes, kdf)).update(FINGERPRINT_TEXT).update(value).digest('base64');
  return slowHash(value, saltBytes).toString('base64');
}

/** The salt for new fingerprints: one per run, so each secret value is hashed once. */
export function newSalt(): string {
  return runSalt().toString('base64');
}

/** `stateKey`: the key the fingerprint was keyed with (records of earlier versions were not keyed), derived as `kdf` says. */
export function sameFingerprint(value: string, salt: string, expected: string, stateKey: string | undefined, kdf?: Kdf): boolean {
  const actual = Buffer.from(fingerprint(value, salt, stateKey, kdf), 'base64');
  const wanted = Buffer.from(expected, 'base64');
  return actual.length === wanted.length && timingSafeEqual(actual, wanted);
}

/** A proof that a state key is the one a stack's secrets were sealed with. */
export interface KeyCheck {
  readonly kdf: Kdf;
  readonly salt: string;
  /** HMAC-SHA256 of a fixed text under the derived key. */
  readonly mac: string;
}

const KEY_CHECK_TEXT = 'pgstacks state key check v1';

export function keyCheck(stateKey: string): KeyCheck {
  const salt = runSalt();
  const kdf = kdfOf(stateKey);
  return { kdf, salt: salt.toString('base64'), mac: createHmac('sha256', deriveKey(stateKey, salt, kdf)).update(KEY_CHECK_TEXT).digest('base64') };
}

export function keyMatches(stateKey: string, check: KeyCheck): boolean {
  const expected = Buffer.from(check.mac, 'base64');
  const actual = createHmac('sha256', deriveKey(stateKey, Buffer.from(check.salt, 'base64'), check.kdf)).update(KEY_CHECK_TEXT).digest();
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
