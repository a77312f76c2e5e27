// Crypto-shredding's cipher (docs/privacy.md): AES-256-GCM everywhere. A data subject's data key
// (32 random bytes) is kept only wrapped under the master key, bound to its id; a personal
// field's value is sealed under its subject's data key, bound to the subject and the field's
// name, so a sealed value moved to another subject or another field does not open. Destroying
// the data key is erasing every value sealed under it: what remains is ciphertext nothing opens.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { erasedValue, sealedValue, z } from '@es/schema';

const IV_BYTES = 12;
const TAG_BYTES = 16;
export const KEY_BYTES = 32;

/** The key the data keys are wrapped under (from configuration, or a KMS behind the KeyStore). */
export interface MasterKey {
  /** A fingerprint, not the key: which master key wrapped a data key. */
  readonly id: string;
  readonly key: Buffer;
}

export function masterKey(key: Buffer): MasterKey {
  if (key.length !== KEY_BYTES)
    throw new Error(`a master key is ${KEY_BYTES} bytes (AES-256), got ${key.length}`);
  return { id: createHash('sha256').update(key).digest('hex').slice(0, 16), key };
}

/** A data subject's key, in the clear: held in memory only, never written so. */
export interface DataKey {
  /** `<subject>#<generation>`: what a sealed value names. */
  readonly id: string;
  readonly subject: string;
  readonly key: Buffer;
}

export const dataKeyId = (subject: string, generation: number) => `${subject}#${generation}`;

/** The subject of a data key's id (a subject id may itself hold '#'). */
export function subjectOfKeyId(id: string): string {
  const at = id.lastIndexOf('#');
  if (at <= 0) throw new Error(`not a data key id: '${id}'`);
  return id.slice(0, at);
}

/**
 * Random IVs (96 bits, GCM's size: random ones are safe for far more messages per key than a
 * data subject will ever have) taken from a pool filled 4 KiB at a time: one call to the
 * system's generator per 341 IVs instead of one each, which cost a tenth of an append's CPU.
 * Each is copied out once, into the sealed value it starts, and never handed out twice.
 */
const IV_POOL_BYTES = IV_BYTES * 341;
let ivPool = Buffer.alloc(0);
let ivOffset = IV_POOL_BYTES;
function takeIv(): Buffer {
  if (ivOffset + IV_BYTES > ivPool.length) {
    ivPool = randomBytes(IV_POOL_BYTES);
    ivOffset = 0;
  }
  const iv = ivPool.subarray(ivOffset, ivOffset + IV_BYTES);
  ivOffset += IV_BYTES;
  return iv;
}

/** IV | tag | ciphertext, written into one buffer (no intermediate copies: this is per append). */
function encrypt(key: Buffer, plain: Buffer, aad: string): Buffer {
  const iv = takeIv();
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = cipher.update(plain);
  const rest = cipher.final(); // empty for GCM, a stream cipher; kept for its contract
  const sealed = Buffer.allocUnsafe(IV_BYTES + TAG_BYTES + body.length + rest.length);
  iv.copy(sealed, 0);
  cipher.getAuthTag().copy(sealed, IV_BYTES);
  body.copy(sealed, IV_BYTES + TAG_BYTES);
  rest.copy(sealed, IV_BYTES + TAG_BYTES + body.length);
  return sealed;
}

function decrypt(key: Buffer, sealed: Buffer, aad: string): Buffer {
  if (sealed.length < IV_BYTES + TAG_BYTES) throw new Error('sealed value too short');
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(sealed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
}

/** A new data key, and its wrapped form (under the master key, bound to the key's id). */
export function newDataKey(
  master: MasterKey,
  subject: string,
  generation: number,
): { key: DataKey; wrapped: Buffer } {
  const key = randomBytes(KEY_BYTES);
  const id = dataKeyId(subject, generation);
  return { key: { id, subject, key }, wrapped: encrypt(master.key, key, `data-key:${id}`) };
}

export function unwrapDataKey(master: MasterKey, id: string, wrapped: Buffer): DataKey {
  return {
    id,
    subject: subjectOfKeyId(id),
    key: decrypt(master.key, wrapped, `data-key:${id}`),
  };
}

/** A personal field's value as it is stored (its shape is @es/schema's `sealedValue`). */
export type Sealed = Readonly<z.output<typeof sealedValue>>;

/** What reads give for a field whose subject was erased (@es/schema's `erasedValue`). */
export type Erased = Readonly<z.output<typeof erasedValue>>;

export const ERASED: Erased = Object.freeze({ erased: true });

export function isSealed(value: unknown): value is Sealed {
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.keys(value).length === 3 &&
    (value as { sealed?: unknown }).sealed === 'v1' &&
    typeof (value as { key?: unknown }).key === 'string' &&
    typeof (value as { data?: unknown }).data === 'string'
  );
}

export function isErased(value: unknown): value is Erased {
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.keys(value).length === 1 &&
    (value as { erased?: unknown }).erased === true
  );
}

/** `field`: the name of the field the value lives in (`shippingAddress`), part of what binds it. */
export function seal(key: DataKey, field: string, value: unknown): Sealed {
  const plain = Buffer.from(JSON.stringify(value), 'utf8');
  return {
    sealed: 'v1',
    key: key.id,
    data: encrypt(key.key, plain, `field:${key.id}:${field}`).toString('base64'),
  };
}

export function open(key: DataKey, field: string, sealed: Sealed): unknown {
  if (sealed.key !== key.id) throw new Error(`sealed under ${sealed.key}, not ${key.id}`);
  const plain = decrypt(key.key, Buffer.from(sealed.data, 'base64'), `field:${key.id}:${field}`);
  return JSON.parse(plain.toString('utf8')) as unknown;
}
