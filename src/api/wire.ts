/**
 * The Engine API JSON shapes shoal serves: internal objects (times in epoch ms, internal fields)
 * converted to what the docker CLI decodes (RFC 3339 times, integer numbers, Docker's field set).
 */
import { desiredIssuer } from '../manager/ca/rotation.js';
import { tlsInfoOf } from '../manager/ca/root-ca.js';
import { rfc3339, ZERO_TIME } from '../common/clock.js';
import type { SwarmInfo } from '../manager/controlapi/api.js';
import { VXLANID_OPTION } from '../network/vni.js';
import type {
  ClusterObject,
  NetworkObject,
  NodeObject,
  ServiceObject,
  ServiceSpec,
  TaskObject,
} from '../store/types.js';

const meta = (o: { ID: string; Version: { Index: number }; CreatedAt: number; UpdatedAt: number }) => ({
  ID: o.ID,
  Version: { Index: o.Version.Index },
  CreatedAt: o.CreatedAt ? rfc3339(o.CreatedAt) : ZERO_TIME,
  UpdatedAt: o.UpdatedAt ? rfc3339(o.UpdatedAt) : ZERO_TIME,
});

const tlsInfoCache = new Map<string, Record<string, string>>();

function issuerInfo(pem: string): Record<string, string> {
  if (!pem.startsWith('-----BEGIN')) return {};
  let info = tlsInfoCache.get(pem);
  if (!info) tlsInfoCache.set(pem, (info = tlsInfoOf(pem)));
  return info;
}

/**
 * The cluster's TLSInfo as Docker shows it: the trusted root, and the issuer every node's certificate
 * should have (the new root while a rotation is in progress). Never the key.
 */
function clusterTlsInfo(c: ClusterObject | undefined): Record<string, string> {
  if (!c) return {};
  const issuer = issuerInfo(desiredIssuer(c));
  return {
    TrustRoot: c.RootCA.CACert,
    CertIssuerSubject: issuer.CertIssuerSubject ?? '',
    CertIssuerPublicKey: issuer.CertIssuerPublicKey ?? '',
  };
}

export function clusterWire(c: ClusterObject, withTokens: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {
    ...meta(c),
    Spec: c.Spec,
    TLSInfo: clusterTlsInfo(c),
    RootRotationInProgress: c.RootCA.RootRotation !== undefined,
    DefaultAddrPool: c.DefaultAddrPool,
    SubnetSize: c.SubnetSize,
    DataPathPort: c.DataPathPort,
  };
  if (withTokens) out.JoinTokens = c.JoinTokens;
  return out;
}

export function swarmInfoWire(s: SwarmInfo): Record<string, unknown> {
  const out: Record<string, unknown> = {
    NodeID: s.NodeID,
    NodeAddr: s.NodeAddr,
    LocalNodeState: s.LocalNodeState,
    ControlAvailable: s.ControlAvailable,
    Error: s.Error,
    RemoteManagers: s.RemoteManagers,
  };
  if (s.Nodes !== undefined) out.Nodes = s.Nodes;
  if (s.Managers !== undefined) out.Managers = s.Managers;
  if (s.Cluster) out.Cluster = clusterWire(s.Cluster, false);
  return out;
}

export function nodeWire(n: NodeObject): Record<string, unknown> {
  const out: Record<string, unknown> = {
    ...meta(n),
    Spec: {
      ...(n.Spec.Name ? { Name: n.Spec.Name } : {}),
      Labels: n.Spec.Labels,
      Role: n.Spec.Role,
      Availability: n.Spec.Availability,
    },
    Description: { ...n.Description, TLSInfo: n.TLSInfo ?? {} },
    Status: { State: n.Status.State, ...(n.Status.Message ? { Message: n.Status.Message } : {}), Addr: n.Status.Addr },
  };
  if (n.ManagerStatus) out.ManagerStatus = n.ManagerStatus;
  return out;
}

const DEFAULT_UPDATE = {
  Parallelism: 1,
  FailureAction: 'pause',
  Monitor: 5_000_000_000,
  MaxFailureRatio: 0,
  Order: 'stop-first',
};

/** What `?insertDefaults=true` adds, as the Docker daemon does for `service inspect`. */
export function withDefaults(spec: ServiceSpec): ServiceSpec {
  const s = structuredClone(spec);
  const c = s.TaskTemplate.ContainerSpec;
  if (c) c.StopGracePeriod ??= 10_000_000_000;
  s.TaskTemplate.RestartPolicy = {
    Condition: 'any',
    Delay: 5_000_000_000,
    MaxAttempts: 0,
    ...(s.TaskTemplate.RestartPolicy ?? {}),
  };
  s.UpdateConfig = { ...DEFAULT_UPDATE, ...(s.UpdateConfig ?? {}) } as ServiceSpec['UpdateConfig'];
  s.RollbackConfig = { ...DEFAULT_UPDATE, ...(s.RollbackConfig ?? {}) } as ServiceSpec['RollbackConfig'];
  return s;
}

function specWire(spec: ServiceSpec): ServiceSpec {
  const s = structuredClone(spec);
  if (s.TaskTemplate.ContainerSpec) s.TaskTemplate.ContainerSpec.Isolation ??= 'default';
  s.TaskTemplate.Runtime ??= 'container';
  s.TaskTemplate.ForceUpdate ??= 0;
  s.EndpointSpec ??= { Mode: 'vip' };
  s.EndpointSpec.Mode ??= 'vip';
  return s;
}

/** Docker's Version has `Index uint64 \`json:",omitempty"\``: a job's first run is `{}`. */
function versionWire(v: { Index: number }): { Index?: number } {
  return v.Index ? { Index: v.Index } : {};
}

export function serviceWire(s: ServiceObject, insertDefaults: boolean): Record<string, unknown> {
  const spec = specWire(insertDefaults ? withDefaults(s.Spec) : s.Spec);
  const out: Record<string, unknown> = {
    ...meta(s),
    Spec: spec,
    Endpoint: {
      Spec: { Mode: 'vip', ...s.Endpoint.Spec },
      ...(s.Endpoint.Ports?.length ? { Ports: s.Endpoint.Ports } : {}),
      ...(s.Endpoint.VirtualIPs ? { VirtualIPs: s.Endpoint.VirtualIPs } : {}),
    },
  };
  if (s.PreviousSpec) out.PreviousSpec = specWire(insertDefaults ? withDefaults(s.PreviousSpec) : s.PreviousSpec);
  if (s.UpdateStatus) {
    out.UpdateStatus = {
      State: s.UpdateStatus.State,
      ...(s.UpdateStatus.StartedAt ? { StartedAt: rfc3339(s.UpdateStatus.StartedAt) } : {}),
      ...(s.UpdateStatus.CompletedAt ? { CompletedAt: rfc3339(s.UpdateStatus.CompletedAt) } : {}),
      Message: s.UpdateStatus.Message,
    };
  }
  if (s.JobStatus)
    out.JobStatus = {
      JobIteration: versionWire(s.JobStatus.JobIteration),
      LastExecution: rfc3339(s.JobStatus.LastExecution),
    };
  return out;
}

export function taskWire(t: TaskObject): Record<string, unknown> {
  const status: Record<string, unknown> = {
    Timestamp: rfc3339(t.Status.Timestamp),
    State: t.Status.State,
    Message: t.Status.Message,
  };
  if (t.Status.Err) status.Err = t.Status.Err;
  if (t.Status.ContainerStatus) status.ContainerStatus = t.Status.ContainerStatus;
  status.PortStatus = t.Status.PortStatus ?? {};
  const out: Record<string, unknown> = {
    ...meta(t),
    Labels: {},
    Spec: specWire({ Name: '', TaskTemplate: t.Spec, Mode: { Replicated: {} } }).TaskTemplate,
    ServiceID: t.ServiceID,
    Slot: t.Slot,
    Status: status,
    DesiredState: t.DesiredState,
  };
  if (t.NodeID) out.NodeID = t.NodeID;
  if (t.JobIteration) out.JobIteration = versionWire(t.JobIteration);
  if (t.Networks?.length) {
    out.NetworksAttachments = t.Networks.map((n) => ({ Network: { ID: n.NetworkID }, Addresses: n.Addresses }));
  }
  return out;
}

/** A node where a network is in use: Docker lists them as the network's Peers. */
export interface NetworkPeer {
  Name: string;
  IP: string;
}

/**
 * A swarm network as `docker network inspect` shows an overlay (the VNI under Docker's option name).
 * Docker answers in one of two forms: a network this node has instantiated (the ingress, always, on a
 * swarm node; an overlay with a local task) comes from the node's own network controller, with
 * `Containers` an object, `Labels` an object and `Peers`; any other swarm network comes from the
 * cluster, with `Containers` null, no `Peers`, and empty maps (labels, IPAM options) as null — the way
 * Go's protobuf decodes an empty map. `local` picks the form; its containers are those of this host's
 * engine on the network (Docker's endpoint entries: Name, EndpointID, MacAddress, IPv4Address, ...).
 */
export function networkWire(
  n: NetworkObject,
  view: { local: false } | { local: true; peers: readonly NetworkPeer[]; containers?: Record<string, unknown> } = {
    local: false,
  },
): Record<string, unknown> {
  const config: Record<string, string> = { Subnet: n.Allocation.Subnet, Gateway: n.Allocation.Gateway };
  if (n.Allocation.IPRange) config.IPRange = n.Allocation.IPRange;
  const orNull = <T extends object>(m: T | null | undefined): T | null => (m && Object.keys(m).length > 0 ? m : null);
  const out: Record<string, unknown> = {
    Name: n.Spec.Name,
    Id: n.ID,
    Created: n.CreatedAt ? rfc3339(n.CreatedAt) : ZERO_TIME,
    Scope: 'swarm',
    Driver: 'overlay',
    EnableIPv6: false,
    IPAM: {
      Driver: n.Spec.IPAMOptions.Driver.Name,
      Options: orNull(n.Spec.IPAMOptions.Driver.Options),
      Config: [config],
    },
    Internal: n.Spec.Internal,
    Attachable: n.Spec.Attachable,
    Ingress: n.Spec.Ingress,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: view.local ? (view.containers ?? {}) : null,
    Options: { ...n.Spec.DriverConfiguration.Options, [VXLANID_OPTION]: String(n.Allocation.VNI) },
    Labels: view.local ? (n.Spec.Labels ?? {}) : orNull(n.Spec.Labels),
  };
  if (view.local) out.Peers = view.peers;
  return out;
}
