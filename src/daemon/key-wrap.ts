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

interface DekFile {
  format: number;
  key?: string;
  wrapped?: { iv: string; tag: string; data: string };
}

const DEK_FILE = (dataRoot: string): string => path.join(dataRoot, 'certificates', 'raft-dek.json');
const KEY_FILE = (dataRoot: string): string => path.join(dataRoot, 'certificates', 'swarm-node.key');

/** True when this node's key material is wrapped: it needs the unlock key to start. */
export async function isLocked(dataRoot: string): Promise<boolean> {
  try {
    const d = JSON.parse(await readFile(DEK_FILE(dataRoot), 'utf8')) as DekFile;
    if (d.wrapped) return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  try {
    return (await readFile(KEY_FILE(dataRoot), 'utf8')).includes('ENCRYPTED PRIVATE KEY');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/** The data-encryption key, unwrapped with `kek` if it is wrapped; created on first use. */
export async function loadDek(dataRoot: string, kek: Buffer | undefined): Promise<AesGcmCipher> {
  const file = DEK_FILE(dataRoot);
  let d: DekFile | undefined;
  try {
    d = JSON.parse(await readFile(file, 'utf8')) as DekFile;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (!d) {
    const key = randomBytes(32);
    await writeDek(dataRoot, key, kek);
    return new AesGcmCipher(key);
  }
  if (d.format !== DEK_FORMAT) throw new Error(`${file}: unsupported key format ${d.format}`);
  if (d.key) return new AesGcmCipher(Buffer.from(d.key, 'base64'));
  if (!d.wrapped) throw new Error(`${file}: no key`);
  if (!kek) throw new ShoalError('unavailable', SWARM_LOCKED);
  try {
    const dec = createDecipheriv('aes-256-gcm', kek, Buffer.from(d.wrapped.iv, 'base64'));
    dec.setAuthTag(Buffer.from(d.wrapped.tag, 'base64'));
    return new AesGcmCipher(Buffer.concat([dec.update(Buffer.from(d.wrapped.data, 'base64')), dec.final()]));
  } catch {
    throw new ShoalError('invalid_argument', INVALID_UNLOCK_KEY);
  }
}

async function writeDek(dataRoot: string, key: Buffer, kek: Buffer | undefined): Promise<void> {
  let d: DekFile;
  if (!kek) d = { format: DEK_FORMAT, key: key.toString('base64') };
  else {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', kek, iv);
    const data = Buffer.concat([c.update(key), c.final()]);
    d = {
      format: DEK_FORMAT,
      wrapped: { iv: iv.toString('base64'), tag: c.getAuthTag().toString('base64'), data: data.toString('base64') },
    };
  }
  await writeFileAtomic(DEK_FILE(dataRoot), JSON.stringify(d));
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

/** Re-stores the DEK and the TLS key under a new KEK (or in the clear when autolock goes off). */
export async function rewrapKeys(dataRoot: string, from: Buffer | undefined, to: Buffer | undefined): Promise<void> {
  const dek = await loadDek(dataRoot, from);
  await writeDek(dataRoot, dek.keyBytes(), to);
  const stored = await readFile(KEY_FILE(dataRoot), 'utf8');
  await writeFileAtomic(KEY_FILE(dataRoot), sealKeyPem(openKeyPem(stored, from), to), 0o600);
}
