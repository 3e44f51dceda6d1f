/**
 * Autolock: the unlock key (`SWMKEY-1-` + base64 of 32 random bytes) is the key-encryption key of
 * every manager. While autolock is on, a manager keeps its Raft data-encryption key and its TLS key
 * on disk only wrapped with it (AES-256-GCM for the DEK, an encrypted PKCS#8 PEM for the TLS key), so
 * a restarted manager cannot read its own state until someone gives it the key (`swarm unlock`).
 */
import { createCipheriv, createDecipheriv, createPrivateKey, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../common/atomic-file.js';
import { ShoalError } from '../common/errors.js';
import { AesGcmCipher, DEK_FORMAT } from '../raft/cipher.js';

export const SWARM_LOCKED =
  'Swarm is encrypted and needs to be unlocked before it can be used. Please use "docker swarm unlock" to unlock it.';
export const INVALID_UNLOCK_KEY = 'swarm could not be unlocked: invalid key';

export const sameKek = (a: Buffer | undefined, b: Buffer | undefined): boolean => (a && b ? a.equals(b) : a === b);

/** A key wrapped (AES-256-GCM) with one key-encryption key. */
interface Wrap {
  iv: string;
  tag: string;
  data: string;
}

/** One data-encryption key as stored: in the clear, or wrapped with one or more KEKs. */
interface Slot {
  key?: string;
  /** Format 1 stored one wrap; a KEK change in progress stores one per KEK (old and new). */
  wrapped?: Wrap | Wrap[];
}

/**
 * `raft-dek.json`: the current DEK at the top level (as format 1 stored it), the pending DEK while
 * the key is being replaced (Raft writes with it, reads with both), and whether another replacement
 * is due once this one ends (autolock turned on again meanwhile: the pending key was in the clear).
 */
interface DekFile extends Slot {
  format: number;
  pending?: Slot;
  rotate?: boolean;
}

/** The keys Raft needs: it writes with `pending` when there is one, and reads with both. */
export interface DataKeys {
  current: AesGcmCipher;
  pending?: AesGcmCipher;
}

const DEK_FILE_FORMAT = 2;

const DEK_FILE = (dataRoot: string): string => path.join(dataRoot, 'certificates', 'raft-dek.json');
const KEY_FILE = (dataRoot: string): string => path.join(dataRoot, 'certificates', 'swarm-node.key');

const wrapsOf = (s: Slot): Wrap[] =>
  s.wrapped === undefined ? [] : Array.isArray(s.wrapped) ? s.wrapped : [s.wrapped];

async function readDekFile(dataRoot: string): Promise<DekFile | undefined> {
  const file = DEK_FILE(dataRoot);
  let d: DekFile;
  try {
    d = JSON.parse(await readFile(file, 'utf8')) as DekFile;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  if (d.format !== DEK_FORMAT && d.format !== DEK_FILE_FORMAT)
    throw new Error(`${file}: unsupported key format ${d.format}`);
  return d;
}

/** True when this node's key material is wrapped: it needs the unlock key to start. */
export async function isLocked(dataRoot: string): Promise<boolean> {
  const d = await readDekFile(dataRoot);
  if (d && (wrapsOf(d).length > 0 || (d.pending && wrapsOf(d.pending).length > 0))) return true;
  try {
    return (await readFile(KEY_FILE(dataRoot), 'utf8')).includes('ENCRYPTED PRIVATE KEY');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

function unwrap(w: Wrap, kek: Buffer): Buffer {
  const dec = createDecipheriv('aes-256-gcm', kek, Buffer.from(w.iv, 'base64'));
  dec.setAuthTag(Buffer.from(w.tag, 'base64'));
  return Buffer.concat([dec.update(Buffer.from(w.data, 'base64')), dec.final()]);
}

function wrap(key: Buffer, kek: Buffer): Wrap {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', kek, iv);
  const data = Buffer.concat([c.update(key), c.final()]);
  return { iv: iv.toString('base64'), tag: c.getAuthTag().toString('base64'), data: data.toString('base64') };
}

/** A slot's key, unwrapped with the first of `keks` that opens it. */
function openSlot(s: Slot, keks: readonly (Buffer | undefined)[]): Buffer {
  if (s.key) return Buffer.from(s.key, 'base64');
  const wraps = wrapsOf(s);
  if (wraps.length === 0) throw new Error('raft-dek.json: no key');
  const usable = keks.filter((k): k is Buffer => k !== undefined);
  if (usable.length === 0) throw new ShoalError('unavailable', SWARM_LOCKED);
  for (const kek of usable)
    for (const w of wraps) {
      try {
        return unwrap(w, kek);
      } catch {
        // another KEK or another wrap
      }
    }
  throw new ShoalError('invalid_argument', INVALID_UNLOCK_KEY);
}

/** A key stored in the clear (no KEK among `keks`) or wrapped with each of them. */
function sealSlot(key: Buffer, keks: readonly (Buffer | undefined)[]): Slot {
  const usable = keks.filter((k): k is Buffer => k !== undefined);
  if (usable.length < keks.length || usable.length === 0) return { key: key.toString('base64') };
  const distinct = usable.filter((k, i) => usable.findIndex((o) => o.equals(k)) === i);
  return { wrapped: distinct.map((kek) => wrap(key, kek)) };
}

async function writeDekFile(dataRoot: string, d: DekFile): Promise<void> {
  await writeFileAtomic(DEK_FILE(dataRoot), JSON.stringify(d));
}

/** The data-encryption keys, unwrapped with `kek` if they are wrapped; created on first use. */
export async function loadDataKeys(dataRoot: string, kek: Buffer | undefined): Promise<DataKeys> {
  const d = await readDekFile(dataRoot);
  if (!d) {
    const key = randomBytes(32);
    await writeDekFile(dataRoot, { format: DEK_FILE_FORMAT, ...sealSlot(key, [kek]) });
    return { current: new AesGcmCipher(key) };
  }
  const current = new AesGcmCipher(openSlot(d, [kek]));
  return d.pending ? { current, pending: new AesGcmCipher(openSlot(d.pending, [kek])) } : { current };
}

/** The current data-encryption key (throws on a wrong unlock key). */
export async function loadDek(dataRoot: string, kek: Buffer | undefined): Promise<AesGcmCipher> {
  return (await loadDataKeys(dataRoot, kek)).current;
}

/**
 * Brings the key material to the wanted KEK (`to`; none: autolock off), from wherever a previous
 * run left it: idempotent, so a restart after a crash between the writes finishes the job, and the
 * TLS key is never left in the clear for good while the DEK is wrapped. Order: (1) the DEK file
 * wrapped with both the old and the new KEK, (2) the TLS key under the new one, (3) the DEK file
 * under the new KEK alone; a crash after any step unlocks with the key the TLS key is under. When
 * the DEK was in the clear and autolock comes on, a new DEK is added as pending in step 1: the old one
 * may have leaked, so Raft must replace it (see RaftNode.rotateDataKey).
 * Returns the pending key when a replacement is under way.
 */
export async function applyKek(
  dataRoot: string,
  from: Buffer | undefined,
  to: Buffer | undefined,
  /** Tests: stop as a crash would, after this many of the three writes. */
  crashAfter?: 1 | 2,
): Promise<AesGcmCipher | undefined> {
  const crash = (step: number): void => {
    if (crashAfter === step) throw new Error(`injected crash after write ${step}`);
  };
  const d = await readDekFile(dataRoot);
  if (!d) throw new Error('raft-dek.json: missing');
  const keks = [from, to];
  const current = openSlot(d, keks);
  let pending = d.pending ? openSlot(d.pending, keks) : undefined;
  let rotate = d.rotate;
  const wasClear = Boolean(d.key) || Boolean(d.pending?.key);
  if (to && wasClear) {
    // Unlocked to locked: the keys in the clear may have been read; one more replacement is due.
    if (pending) rotate = true;
    else pending = randomBytes(32);
  }
  const stored = await readFile(KEY_FILE(dataRoot), 'utf8');
  const tlsDone = to ? tlsSealedWith(stored, to) : !stored.includes('ENCRYPTED PRIVATE KEY');
  const fileFor = (k: readonly (Buffer | undefined)[]): DekFile => ({
    format: DEK_FILE_FORMAT,
    ...sealSlot(current, k),
    ...(pending ? { pending: sealSlot(pending, k) } : {}),
    ...(rotate ? { rotate } : {}),
  });
  const dekDone =
    !rotate === !d.rotate &&
    Boolean(pending) === Boolean(d.pending) &&
    (to ? !d.key && wrapsOf(d).length === 1 && opensWith(d, to) : Boolean(d.key));
  if (tlsDone && dekDone) return pending ? new AesGcmCipher(pending) : undefined;
  const tlsAt = [from, to].findIndex((k) => {
    try {
      openKeyPem(stored, k);
      return true;
    } catch {
      return false;
    }
  });
  if (tlsAt < 0) throw new ShoalError('invalid_argument', INVALID_UNLOCK_KEY);
  const tlsFrom = [from, to][tlsAt];
  // (1) Either KEK opens the DEK while the TLS key moves; the clear stays clear only if `to` is none.
  await writeDekFile(dataRoot, fileFor(to ? [to, tlsFrom].filter((k) => k !== undefined) : [undefined]));
  crash(1);
  // (2)
  if (!tlsDone) await writeFileAtomic(KEY_FILE(dataRoot), sealKeyPem(openKeyPem(stored, tlsFrom), to), 0o600);
  crash(2);
  // (3)
  await writeDekFile(dataRoot, fileFor([to]));
  return pending ? new AesGcmCipher(pending) : undefined;
}

function opensWith(s: Slot, kek: Buffer): boolean {
  try {
    openSlot(s, [kek]);
    return true;
  } catch {
    return false;
  }
}

function tlsSealedWith(stored: string, kek: Buffer): boolean {
  if (!stored.includes('ENCRYPTED PRIVATE KEY')) return false;
  try {
    openKeyPem(stored, kek);
    return true;
  } catch {
    return false;
  }
}

/**
 * Raft has rewritten everything under the pending key (RaftNode.rotateDataKey resolved): it becomes
 * the current key and the old one is gone from disk. If another replacement was asked for meanwhile,
 * a new pending key is generated and returned (Raft must rotate to it too).
 */
export async function promotePending(
  dataRoot: string,
  kek: Buffer | undefined,
  done: AesGcmCipher,
): Promise<AesGcmCipher | undefined> {
  const d = await readDekFile(dataRoot);
  if (!d?.pending) return undefined;
  const pending = openSlot(d.pending, [kek]);
  if (!pending.equals(done.keyBytes())) return new AesGcmCipher(pending); // another one is pending now
  const next = d.rotate ? randomBytes(32) : undefined;
  await writeDekFile(dataRoot, {
    format: DEK_FILE_FORMAT,
    ...sealSlot(pending, [kek]),
    ...(next ? { pending: sealSlot(next, [kek]) } : {}),
  });
  return next ? new AesGcmCipher(next) : undefined;
}

/** A TLS key PEM as it is stored: encrypted with the KEK while autolock is on. */
export function sealKeyPem(plainPem: string, kek: Buffer | undefined): string {
  if (!kek) return plainPem;
  return createPrivateKey(plainPem).export({
    type: 'pkcs8',
    format: 'pem',
    cipher: 'aes-256-cbc',
    passphrase: kek,
  }) as string;
}

/** The plain PEM of a stored TLS key. */
export function openKeyPem(storedPem: string, kek: Buffer | undefined): string {
  if (!storedPem.includes('ENCRYPTED PRIVATE KEY')) return storedPem;
  if (!kek) throw new ShoalError('unavailable', SWARM_LOCKED);
  try {
    return createPrivateKey({ key: storedPem, format: 'pem', passphrase: kek }).export({
      type: 'pkcs8',
      format: 'pem',
    }) as string;
  } catch {
    throw new ShoalError('invalid_argument', INVALID_UNLOCK_KEY);
  }
}
