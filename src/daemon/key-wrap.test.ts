/**
 * The key material on disk through autolock changes, including a crash between the writes: the DEK
 * is replaced when autolock comes on, and no crash leaves the TLS key in the clear (or the node
 * unable to unlock) for good.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { applyKek, isLocked, loadDataKeys, loadDek, openKeyPem, promotePending } from './key-wrap.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const A = randomBytes(32);
const B = randomBytes(32);

/** A fresh manager's data root: a TLS key and a DEK, both in the clear. */
async function dataRoot(): Promise<{ root: string; tlsPem: string; keyFile: string }> {
  const root = await mkdtemp(path.join(tmpdir(), 'shoal-keywrap-'));
  dirs.push(root);
  await mkdir(path.join(root, 'certificates'), { recursive: true });
  const tlsPem = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;
  const keyFile = path.join(root, 'certificates', 'swarm-node.key');
  await writeFile(keyFile, tlsPem, { mode: 0o600 });
  await loadDataKeys(root, undefined); // creates the DEK
  return { root, tlsPem, keyFile };
}

const tlsOpens = async (keyFile: string, kek: Buffer | undefined): Promise<boolean> => {
  try {
    openKeyPem(await readFile(keyFile, 'utf8'), kek);
    return true;
  } catch {
    return false;
  }
};
const dekOpens = async (root: string, kek: Buffer | undefined): Promise<boolean> =>
  loadDek(root, kek).then(
    () => true,
    () => false,
  );

describe('autolock key material', () => {
  it('turning autolock on wraps both keys and starts replacing the DEK; promotion drops the old one', async () => {
    const { root, keyFile } = await dataRoot();
    const old = await loadDek(root, undefined);
    const pending = await applyKek(root, undefined, A);
    assert.ok(pending, 'a new DEK is pending');
    assert.ok(!pending.keyBytes().equals(old.keyBytes()));
    assert.ok(await isLocked(root));
    assert.match(await readFile(keyFile, 'utf8'), /ENCRYPTED PRIVATE KEY/);
    await assert.rejects(loadDek(root, undefined), /Swarm is encrypted/);
    const keys = await loadDataKeys(root, A);
    assert.ok(keys.current.keyBytes().equals(old.keyBytes()) && keys.pending?.keyBytes().equals(pending.keyBytes()));
    // Raft has rewritten its data under the pending key (RaftNode.rotateDataKey): it becomes current.
    assert.equal(await promotePending(root, A, pending), undefined);
    const after = await loadDataKeys(root, A);
    assert.ok(after.current.keyBytes().equals(pending.keyBytes()) && !after.pending);
    const file = await readFile(path.join(root, 'certificates', 'raft-dek.json'), 'utf8');
    assert.ok(!file.includes(old.keyBytes().toString('base64')), 'the old DEK is gone from disk');
    // A change of unlock key only rewraps: no new DEK.
    assert.equal(await applyKek(root, A, B), undefined);
    assert.ok((await loadDek(root, B)).keyBytes().equals(pending.keyBytes()));
  });

  it('a crash after the DEK is wrapped, before the TLS key is: locked, and the next run seals the TLS key', async () => {
    const { root, keyFile, tlsPem } = await dataRoot();
    await assert.rejects(applyKek(root, undefined, A, 1), /injected crash/);
    assert.equal(await readFile(keyFile, 'utf8'), tlsPem, 'the TLS key is still in the clear');
    assert.ok(await isLocked(root), 'the node restarts locked');
    assert.ok(await dekOpens(root, A), 'the unlock key opens it');
    // After `swarm unlock` the autolock duty runs applyKek(kek, wanted) again.
    const pending = await applyKek(root, A, A);
    assert.ok(pending, 'the DEK replacement is still pending');
    assert.match(await readFile(keyFile, 'utf8'), /ENCRYPTED PRIVATE KEY/);
    assert.ok(await tlsOpens(keyFile, A));
  });

  it('a crash in the middle of an unlock-key rotation: the old key unlocks, and the next run finishes', async () => {
    const { root, keyFile } = await dataRoot();
    await applyKek(root, undefined, A);
    // Crash after (1): the DEK opens with either key, the TLS key only with the old one.
    await assert.rejects(applyKek(root, A, B, 1), /injected crash/);
    assert.ok((await dekOpens(root, A)) && (await tlsOpens(keyFile, A)), 'the old key unlocks');
    await applyKek(root, A, B);
    assert.ok((await dekOpens(root, B)) && (await tlsOpens(keyFile, B)));
    assert.ok(!(await dekOpens(root, A)) && !(await tlsOpens(keyFile, A)), 'the old key opens nothing');
    // Crash after (2): the TLS key is under the new key, the DEK under both; the new key unlocks.
    await assert.rejects(applyKek(root, B, A, 2), /injected crash/);
    assert.ok((await dekOpens(root, A)) && (await tlsOpens(keyFile, A)), 'the new key unlocks');
    await applyKek(root, A, A);
    assert.ok(!(await dekOpens(root, B)), 'the previous key no longer opens the DEK');
  });

  it('a crash while autolock goes off: the next run leaves both keys in the clear', async () => {
    const { root, keyFile } = await dataRoot();
    await applyKek(root, undefined, A);
    await assert.rejects(applyKek(root, A, undefined, 1), /injected crash/);
    assert.ok(await isLocked(root), 'the TLS key is still wrapped');
    await applyKek(root, A, undefined);
    assert.ok(!(await isLocked(root)));
    assert.ok(await tlsOpens(keyFile, undefined));
  });

  it('autolock on again before a replacement ended: one more replacement follows', async () => {
    const { root } = await dataRoot();
    const first = await applyKek(root, undefined, A);
    await applyKek(root, A, undefined); // off again: the pending key is now in the clear too
    const again = await applyKek(root, undefined, B);
    assert.ok(first && again && again.keyBytes().equals(first.keyBytes()), 'the pending replacement goes on');
    const next = await promotePending(root, B, again);
    assert.ok(next && !next.keyBytes().equals(first.keyBytes()), 'a new pending key after the first ends');
    assert.equal(await promotePending(root, B, next), undefined);
    assert.ok((await loadDek(root, B)).keyBytes().equals(next.keyBytes()));
  });
});
