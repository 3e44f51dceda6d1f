/** The cluster object: `swarm inspect`, `swarm update` (tokens, autolock, root CA rotation), the unlock key. */
import { ShoalError } from '../../common/errors.js';
import type { Random } from '../../common/random.js';
import type { ClusterObject, ClusterSpec } from '../../store/types.js';
import type { Store } from '../../store/store.js';
import { externalCAFor, externalCAProblem } from '../ca/external-ca.js';
import { newJoinToken } from '../ca/join-token.js';
import { createRootCA, rootCAProblem } from '../ca/root-ca.js';
import { newUnlockKey } from '../ca/unlock-key.js';
import type { SwarmUpdateFlags } from './api.js';
import { storeWrite } from './context.js';
import { read, write } from './method.js';
import { rpcError } from './rpc-errors.js';

/** The cluster object, or Docker's error while a manager has none yet. */
export function clusterOf(store: Store): ClusterObject {
  const c = store.view((tx) => tx.all('cluster')[0]);
  if (!c) throw new ShoalError('unavailable', 'cluster object not found');
  return c;
}

/**
 * The cluster object as clients may see it: no CA private key and no unlock key ever leave a manager
 * through the API (as swarmkit redacts GetCluster); the unlock key has its own call.
 */
export function redacted(c: ClusterObject): ClusterObject {
  const { UnlockKey: _unlock, ...rest } = c;
  const { CAKey: _key, RootRotation, ...root } = c.RootCA;
  const rotation = RootRotation ? { CACert: RootRotation.CACert, Phase: RootRotation.Phase } : undefined;
  return { ...rest, RootCA: { ...root, ...(rotation ? { RootRotation: rotation } : {}) } };
}

export const clusterMethods = {
  getCluster: read((ctx) => redacted(clusterOf(ctx.store))),

  /** `GET /swarm/unlockkey`: empty while autolock is off. */
  getUnlockKey: read((ctx) => ({ UnlockKey: clusterOf(ctx.store).UnlockKey ?? '' })),

  updateCluster: write(async (ctx, version: number, spec: ClusterSpec, flags: SwarmUpdateFlags): Promise<void> => {
    const ca = spec.CAConfig ?? {};
    const extProblem = externalCAProblem(ca.ExternalCAs);
    if (extProblem) throw rpcError('invalid_argument', extProblem);
    const rotation = await rootRotationFor(ca, clusterOf(ctx.store));
    await storeWrite(ctx, (tx) => {
      const cur = tx.all('cluster')[0];
      if (!cur) throw new ShoalError('unavailable', 'cluster object not found');
      const next: ClusterObject = { ...cur, Version: { Index: version }, Spec: normalizeClusterSpec(spec, cur.Spec) };
      validateClusterSpec(next.Spec);
      // The signing CA given travels once, in this request; it is never kept in (or shown from) the spec.
      delete next.Spec.CAConfig.SigningCACert;
      delete next.Spec.CAConfig.SigningCAKey;
      if (rotation) next.RootCA = { ...cur.RootCA, RootRotation: rotation };
      if (flags.rotateWorkerToken) next.JoinTokens = { ...next.JoinTokens, Worker: joinToken(cur, ctx.random) };
      if (flags.rotateManagerToken) next.JoinTokens = { ...next.JoinTokens, Manager: joinToken(cur, ctx.random) };
      // Autolock: a key exists exactly while it is on; rotating makes a new one.
      const autolock = Boolean(next.Spec.EncryptionConfig?.AutoLockManagers);
      if (!autolock) delete next.UnlockKey;
      else if (!next.UnlockKey || flags.rotateManagerUnlockKey) next.UnlockKey = newUnlockKey(ctx.random);
      tx.update('cluster', next);
    });
  }),
};

/** A join token pins the cluster's current root CA certificate. */
function joinToken(cluster: ClusterObject, random: Random): string {
  return newJoinToken(cluster.RootCA.CACert, random);
}

/**
 * The root rotation an update asks for: a new ForceRotate value (a new root is made) or a signing
 * CA given with its key. Undefined when the update rotates nothing.
 */
async function rootRotationFor(
  ca: ClusterSpec['CAConfig'],
  cur: ClusterObject,
): Promise<NonNullable<ClusterObject['RootCA']['RootRotation']> | undefined> {
  const forced = (ca.ForceRotate ?? 0) !== (cur.Spec.CAConfig.ForceRotate ?? 0);
  if (!forced && !ca.SigningCACert && !ca.SigningCAKey) return undefined;
  if (ca.SigningCAKey && !ca.SigningCACert)
    throw rpcError('invalid_argument', 'if a signing CA key is provided, the signing CA cert must also be provided');
  const external = externalCAFor(ca.ExternalCAs, ca.SigningCACert ?? '');
  if (ca.SigningCACert && !ca.SigningCAKey && !external) {
    throw rpcError(
      'invalid_argument',
      'a signing CA cert needs its key, or an external CA (--external-ca) that signs with it',
    );
  }
  if (ca.SigningCACert && ca.SigningCACert.trim() === cur.RootCA.CACert.trim() && !cur.RootCA.RootRotation)
    return undefined;
  if (cur.RootCA.RootRotation)
    throw rpcError('failed_precondition', 'a root CA rotation is already in progress; wait for it to complete');
  if (ca.SigningCACert) {
    const problem = rootCAProblem(ca.SigningCACert, ca.SigningCAKey, Date.now());
    if (problem) throw rpcError('invalid_argument', problem);
    // Without a key, certificates from this root come from the external CA.
    return { CACert: ca.SigningCACert, ...(ca.SigningCAKey ? { CAKey: ca.SigningCAKey } : {}), Phase: 'trust' };
  }
  const root = await createRootCA(Date.now());
  return { CACert: root.certPem, CAKey: root.keyPem, Phase: 'trust' };
}

/** Minimum node certificate validity, as swarmkit's (ca.MinNodeCertExpiration). */
const MIN_CERT_EXPIRY_NS = 3600e9;

/** swarmkit's checks of a cluster spec (after defaults are filled): a bad value is refused, nothing written. */
export function validateClusterSpec(s: ClusterSpec): void {
  const expiry = s.CAConfig.NodeCertExpiry ?? 0;
  if (expiry < MIN_CERT_EXPIRY_NS) throw rpcError('invalid_argument', 'minimum certificate expiry time is: 1h0m0s');
  if ((s.Dispatcher.HeartbeatPeriod ?? 0) <= 0) throw rpcError('invalid_argument', 'heartbeat period must be positive');
  const {
    ElectionTick = 10,
    HeartbeatTick = 1,
    SnapshotInterval = 10000,
    KeepOldSnapshots = 0,
    LogEntriesForSlowFollowers = 500,
  } = s.Raft;
  if (HeartbeatTick < 1) throw rpcError('invalid_argument', 'heartbeat tick must be at least 1');
  if (ElectionTick <= HeartbeatTick)
    throw rpcError('invalid_argument', 'election tick must be greater than heartbeat tick');
  if (ElectionTick > 10_000) throw rpcError('invalid_argument', 'election tick cannot be more than 10000');
  if (SnapshotInterval < 1) throw rpcError('invalid_argument', 'snapshot interval must be at least 1');
  if (KeepOldSnapshots > 1000) throw rpcError('invalid_argument', 'keep-old-snapshots cannot be more than 1000');
  if (LogEntriesForSlowFollowers > 10_000_000)
    throw rpcError('invalid_argument', 'log entries for slow followers cannot be more than 10000000');
  const retention = s.Orchestration.TaskHistoryRetentionLimit ?? 5;
  if (retention < 0 || retention > 10_000)
    throw rpcError('invalid_argument', 'task history retention limit must be between 0 and 10000');
}

export function normalizeClusterSpec(spec: Partial<ClusterSpec> | undefined, base?: ClusterSpec): ClusterSpec {
  const s = spec ?? {};
  const pick = <T>(v: T | undefined, b: T | undefined, d: T): T => (v !== undefined && v !== 0 ? v : (b ?? d));
  return {
    Name: s.Name || base?.Name || 'default',
    Labels: s.Labels ?? base?.Labels ?? {},
    Orchestration: {
      TaskHistoryRetentionLimit:
        s.Orchestration?.TaskHistoryRetentionLimit ?? base?.Orchestration.TaskHistoryRetentionLimit ?? 5,
    },
    Raft: {
      SnapshotInterval: pick(s.Raft?.SnapshotInterval, base?.Raft.SnapshotInterval, 10000),
      KeepOldSnapshots: s.Raft?.KeepOldSnapshots ?? base?.Raft.KeepOldSnapshots ?? 0,
      LogEntriesForSlowFollowers: pick(s.Raft?.LogEntriesForSlowFollowers, base?.Raft.LogEntriesForSlowFollowers, 500),
      ElectionTick: pick(s.Raft?.ElectionTick, base?.Raft.ElectionTick, 10),
      HeartbeatTick: pick(s.Raft?.HeartbeatTick, base?.Raft.HeartbeatTick, 1),
    },
    Dispatcher: {
      HeartbeatPeriod: pick(s.Dispatcher?.HeartbeatPeriod, base?.Dispatcher.HeartbeatPeriod, 5_000_000_000),
    },
    CAConfig: {
      ...(base?.CAConfig ?? {}),
      ...(s.CAConfig ?? {}),
      NodeCertExpiry: pick(s.CAConfig?.NodeCertExpiry, base?.CAConfig.NodeCertExpiry, 7_776_000_000_000_000),
    },
    TaskDefaults: s.TaskDefaults ?? base?.TaskDefaults ?? {},
    EncryptionConfig: {
      AutoLockManagers: s.EncryptionConfig?.AutoLockManagers ?? base?.EncryptionConfig.AutoLockManagers ?? false,
    },
  };
}
