/**
 * Authenticated encryption of what Raft writes to disk (WAL records, snapshot chunks) with this
 * manager's data-encryption key, as swarm does: secrets live in the log. AES-256-GCM with a random
 * 96-bit nonce per record; a record's kind is bound in as associated data so a WAL record cannot be
 * passed off as a snapshot chunk. The key file sits with the node's key material, so autolock only
 * has to wrap it with the key-encryption key.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomFillSync } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../common/atomic-file.js';

const ALGORITHM = 'aes-256-gcm';
const NONCE = 12;
const TAG = 16;
/**
 * Nonces are drawn from the system's CSPRNG in batches: a call for 12 bytes cost about 7 us here,
 * as much as sealing the record, on every write's path. Each nonce is still random and used once.
 */
const NONCE_BATCH = 256;
let nonces = Buffer.alloc(0);
let nonceAt = 0;
const freshNonce = (): Buffer => {
  if (nonceAt + NONCE > nonces.length) {
    nonces = randomFillSync(Buffer.allocUnsafeSlow(NONCE * NONCE_BATCH));
    nonceAt = 0;
  }
  const n = nonces.subarray(nonceAt, nonceAt + NONCE);
  nonceAt += NONCE;
  return n;
};
export const DEK_FORMAT = 1;

export type RecordKind = 'wal' | 'snapshot' | 'snapshot-end';
const AAD: Record<RecordKind, Buffer> = {
  wal: Buffer.from('wal'),
  snapshot: Buffer.from('snapshot'),
  'snapshot-end': Buffer.from('snapshot-end'),
};

export interface DataCipher {
  readonly name: string;
  seal(kind: RecordKind, plain: Uint8Array): Buffer;
  /** Throws when the record was altered or sealed with another key. */
  open(kind: RecordKind, sealed: Uint8Array): Buffer;
}

export class AesGcmCipher implements DataCipher {
  readonly name = ALGORITHM;

  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('raft: the data-encryption key must be 32 bytes');
  }

  /** The raw key, to be stored wrapped (autolock). */
  keyBytes(): Buffer {
    return this.key;
  }

  seal(kind: RecordKind, plain: Uint8Array): Buffer {
    const nonce = freshNonce();
    const c = createCipheriv(ALGORITHM, this.key, nonce);
    c.setAAD(AAD[kind]);
    const body = Buffer.concat([c.update(plain), c.final()]);
    return Buffer.concat([nonce, body, c.getAuthTag()]);
  }

  open(kind: RecordKind, sealed: Uint8Array): Buffer {
    const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    if (buf.length < NONCE + TAG) throw new Error('raft: encrypted record too short');
    const d = createDecipheriv(ALGORITHM, this.key, buf.subarray(0, NONCE));
    d.setAAD(AAD[kind]);
    d.setAuthTag(buf.subarray(buf.length - TAG));
    return Buffer.concat([d.update(buf.subarray(NONCE, buf.length - TAG)), d.final()]);
  }
}

/**
 * The keys of one member while its data-encryption key is replaced: new records are sealed with the
 * active key only; records written before the switch still open with the older keys until the member
 * has rewritten everything under the active one (a snapshot and a fresh WAL segment) and forgets them.
 */
export class KeyRing implements DataCipher {
  private older: DataCipher[];

  constructor(
    private current: DataCipher,
    older: readonly DataCipher[] = [],
  ) {
    if (older.some((c) => c.name !== current.name)) throw new Error('raft: every key of a ring uses one algorithm');
    this.older = [...older];
  }

  get name(): string {
    return this.current.name;
  }

  /** The key new records are sealed with. */
  get active(): DataCipher {
    return this.current;
  }

  /** Keys still accepted for reading that the member no longer writes with. */
  get retired(): readonly DataCipher[] {
    return this.older;
  }

  /** From now on records are sealed with `next`; the key used so far is kept for reading. */
  use(next: DataCipher): void {
    if (next === this.current) return;
    if (next.name !== this.current.name) throw new Error('raft: every key of a ring uses one algorithm');
    this.older = [this.current, ...this.older.filter((c) => c !== next)];
    this.current = next;
  }

  /** Nothing on disk needs the older keys any more. */
  forgetRetired(): void {
    this.older = [];
  }

  seal(kind: RecordKind, plain: Uint8Array): Buffer {
    return this.current.seal(kind, plain);
  }

  open(kind: RecordKind, sealed: Uint8Array): Buffer {
    try {
      return this.current.open(kind, sealed);
    } catch (e) {
      for (const c of this.older) {
        try {
          return c.open(kind, sealed);
        } catch {
          // the next key, then
        }
      }
      throw e;
    }
  }
}

/** No encryption: for unit tests of pure storage logic only. */
export const plainCipher: DataCipher = {
  name: 'none',
  seal: (_kind, plain) => Buffer.from(plain),
  open: (_kind, sealed) => Buffer.from(sealed),
};

/** Reads the manager's data-encryption key, creating it (mode 0600, written atomically) on first use. */
export async function loadOrCreateDek(file: string): Promise<AesGcmCipher> {
  try {
    const k = JSON.parse(await readFile(file, 'utf8')) as { format: number; key: string };
    if (k.format !== DEK_FORMAT) throw new Error(`${file}: unsupported key format ${k.format}`);
    return new AesGcmCipher(Buffer.from(k.key, 'base64'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  await writeFileAtomic(file, JSON.stringify({ format: DEK_FORMAT, key: key.toString('base64') }));
  return new AesGcmCipher(key);
}
