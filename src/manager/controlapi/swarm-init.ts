/**
 * The objects a swarm starts with and the node object of a node that joins: what `swarm init` and
 * an admitted `swarm join` write to the store.
 */
import type { NodeId } from '../../common/ids.js';
import type { NodeRole } from '../../common/node-role.js';
import type { Random } from '../../common/random.js';
import type {
  ClusterObject,
  NetworkObject,
  NetworkSpec,
  NodeDescription,
  NodeObject,
  TlsInfo,
} from '../../store/types.js';
import { dataPathPort } from '../../network/data-path-port.js';
import { allocateNetwork, INGRESS_NETWORK_NAME } from '../allocator/network-allocation.js';
import { newJoinToken } from '../ca/join-token.js';
import { newUnlockKey } from '../ca/unlock-key.js';
import type { InitRequest } from './api.js';
import { normalizeClusterSpec } from './cluster.js';

export type Availability = 'active' | 'pause' | 'drain';

/** Docker's default for anything it does not recognise is `active`. */
export function availabilityOf(a: string | undefined): Availability {
  return a === 'pause' || a === 'drain' ? a : 'active';
}

export interface NewCluster {
  clusterId: string;
  req: InitRequest;
  /** The root CA: its key is absent when an external CA signs. */
  ca: { certPem: string; keyPem?: string };
  now: number;
  random: Random;
}

export function initialCluster(c: NewCluster): ClusterObject {
  const { req } = c;
  const autolock = Boolean(req.AutoLockManagers || req.Spec?.EncryptionConfig?.AutoLockManagers);
  return {
    ID: c.clusterId,
    Version: { Index: 0 },
    CreatedAt: c.now,
    UpdatedAt: c.now,
    Spec: normalizeClusterSpec({ ...req.Spec, EncryptionConfig: { AutoLockManagers: autolock } }),
    RootCA: { CACert: c.ca.certPem, ...(c.ca.keyPem ? { CAKey: c.ca.keyPem } : {}) },
    ...(autolock ? { UnlockKey: newUnlockKey(c.random) } : {}),
    JoinTokens: { Worker: newJoinToken(c.ca.certPem, c.random), Manager: newJoinToken(c.ca.certPem, c.random) },
    DefaultAddrPool: req.DefaultAddrPool?.length ? req.DefaultAddrPool : ['10.0.0.0/8'],
    SubnetSize: req.SubnetSize || 24,
    DataPathPort: dataPathPort(req.DataPathPort),
  };
}

export interface NewNode {
  nodeId: NodeId;
  role: NodeRole;
  availability: Availability;
  description: NodeDescription;
  /** The node's IP as the managers see it. */
  ip: string;
  /** Its cluster address (`ip:port`), where a manager serves and where it is told of its removal. */
  clusterAddr: string;
  now: number;
  /** What the node trusts and who issued its certificate, when known at creation (the first manager). */
  tlsInfo?: TlsInfo;
}

/** The first manager: ready and leading from the start. */
export function firstManagerNode(n: NewNode): NodeObject {
  return {
    ...nodeObject(n),
    Status: { State: 'ready', Addr: n.ip },
    ManagerStatus: { Leader: true, Reachability: 'reachable', Addr: n.clusterAddr },
  };
}

/** A node admitted by a join token; it reports ready through its dispatcher session. */
export function joinedNode(n: NewNode): NodeObject {
  const node: NodeObject = { ...nodeObject(n), Status: { State: 'unknown', Addr: n.ip }, ClusterAddr: n.clusterAddr };
  if (n.role === 'manager') node.ManagerStatus = { Leader: false, Reachability: 'unknown', Addr: n.clusterAddr };
  return node;
}

function nodeObject(n: NewNode): Omit<NodeObject, 'Status'> {
  return {
    ID: n.nodeId,
    Version: { Index: 0 },
    CreatedAt: n.now,
    UpdatedAt: n.now,
    Spec: { Labels: {}, Role: n.role, Availability: n.availability },
    Description: n.description,
    ...(n.tlsInfo ? { TLSInfo: n.tlsInfo } : {}),
  };
}

/** The routing mesh's network, made with the cluster: the first subnet of the pool (10.0.0.0/24 by default), as Docker does. */
export function ingressNetwork(id: string, cluster: ClusterObject, now: number): NetworkObject {
  const spec: NetworkSpec = {
    Name: INGRESS_NETWORK_NAME,
    Labels: {},
    DriverConfiguration: { Name: 'overlay', Options: {} },
    Attachable: false,
    Internal: false,
    Ingress: true,
    IPAMOptions: { Driver: { Name: 'default' }, Configs: [] },
  };
  return {
    ID: id,
    Version: { Index: 0 },
    CreatedAt: now,
    UpdatedAt: now,
    Spec: spec,
    Allocation: allocateNetwork(spec, cluster, []),
  };
}
