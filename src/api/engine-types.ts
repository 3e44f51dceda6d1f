/**
 * The request bodies of the swarm endpoints as the Docker daemon declares them (moby's
 * api/types/swarm), for decoding at the API edge (go-json/decode.ts). A field missing here is a
 * field shoal drops from requests, so every field of the Engine API types is listed.
 */
import {
  any,
  bool,
  duration,
  fileMode,
  float32,
  int,
  int64,
  named,
  sliceOf,
  str,
  stringMap,
  strings,
  struct,
  uint32,
  uint64,
} from './go-json/go-type.js';

const driver = struct('swarm.Driver', { Name: str, Options: stringMap });

const mount = struct('mount.Mount', {
  Type: named('mount.Type'),
  Source: str,
  Target: str,
  ReadOnly: bool,
  Consistency: named('mount.Consistency'),
  BindOptions: struct('mount.BindOptions', { Propagation: named('mount.Propagation'), NonRecursive: bool }),
  VolumeOptions: struct('mount.VolumeOptions', { NoCopy: bool, Labels: stringMap, DriverConfig: driver }),
  TmpfsOptions: struct('mount.TmpfsOptions', { SizeBytes: int64, Mode: fileMode }),
});

const fileTarget = (name: string) => struct(name, { Name: str, UID: str, GID: str, Mode: fileMode });

const containerSpec = struct('swarm.ContainerSpec', {
  Image: str,
  Labels: stringMap,
  Command: strings,
  Args: strings,
  Hostname: str,
  Env: strings,
  Dir: str,
  User: str,
  Groups: strings,
  Privileges: struct('swarm.Privileges', {
    CredentialSpec: struct('swarm.CredentialSpec', { Config: str, File: str, Registry: str }),
    SELinuxContext: struct('swarm.SELinuxContext', { Disable: bool, User: str, Role: str, Type: str, Level: str }),
  }),
  Init: bool,
  StopSignal: str,
  TTY: bool,
  OpenStdin: bool,
  ReadOnly: bool,
  Mounts: sliceOf(mount),
  StopGracePeriod: duration,
  Healthcheck: struct('container.HealthConfig', {
    Test: strings,
    Interval: duration,
    Timeout: duration,
    StartPeriod: duration,
    Retries: int,
  }),
  Hosts: strings,
  DNSConfig: struct('swarm.DNSConfig', { Nameservers: strings, Search: strings, Options: strings }),
  Secrets: sliceOf(
    struct('swarm.SecretReference', {
      File: fileTarget('swarm.SecretReferenceFileTarget'),
      SecretID: str,
      SecretName: str,
    }),
  ),
  Configs: sliceOf(
    struct('swarm.ConfigReference', {
      File: fileTarget('swarm.ConfigReferenceFileTarget'),
      Runtime: struct('swarm.ConfigReferenceRuntimeTarget', {}),
      ConfigID: str,
      ConfigName: str,
    }),
  ),
  Isolation: named('container.Isolation'),
  Sysctls: stringMap,
  CapabilityAdd: strings,
  CapabilityDrop: strings,
  Ulimits: sliceOf(struct('units.Ulimit', { Name: str, Hard: int64, Soft: int64 })),
});

const networkAttachment = struct('swarm.NetworkAttachmentConfig', {
  Target: str,
  Aliases: strings,
  DriverOpts: stringMap,
});

const taskSpec = struct('swarm.TaskSpec', {
  ContainerSpec: containerSpec,
  PluginSpec: any,
  NetworkAttachmentSpec: struct('swarm.NetworkAttachmentSpec', { ContainerID: str }),
  Resources: struct('swarm.ResourceRequirements', {
    Limits: struct('swarm.Limit', { NanoCPUs: int64, MemoryBytes: int64, Pids: int64 }),
    Reservations: struct('swarm.Resources', { NanoCPUs: int64, MemoryBytes: int64, GenericResources: sliceOf(any) }),
  }),
  RestartPolicy: struct('swarm.RestartPolicy', {
    Condition: named('swarm.RestartPolicyCondition'),
    Delay: duration,
    MaxAttempts: uint64,
    Window: duration,
  }),
  Placement: struct('swarm.Placement', {
    Constraints: strings,
    Preferences: sliceOf(
      struct('swarm.PlacementPreference', { Spread: struct('swarm.SpreadOver', { SpreadDescriptor: str }) }),
    ),
    MaxReplicas: uint64,
    Platforms: sliceOf(struct('swarm.Platform', { Architecture: str, OS: str })),
  }),
  Networks: sliceOf(networkAttachment),
  LogDriver: driver,
  ForceUpdate: uint64,
  Runtime: named('swarm.RuntimeType'),
});

const updateConfig = (name: string) =>
  struct(name, {
    Parallelism: uint64,
    Delay: duration,
    FailureAction: str,
    Monitor: duration,
    MaxFailureRatio: float32,
    Order: str,
  });

export const SERVICE_SPEC = struct('swarm.ServiceSpec', {
  Name: str,
  Labels: stringMap,
  TaskTemplate: taskSpec,
  Mode: struct('swarm.ServiceMode', {
    Replicated: struct('swarm.ReplicatedService', { Replicas: uint64 }),
    Global: struct('swarm.GlobalService', {}),
    ReplicatedJob: struct('swarm.ReplicatedJob', { MaxConcurrent: uint64, TotalCompletions: uint64 }),
    GlobalJob: struct('swarm.GlobalJob', {}),
  }),
  UpdateConfig: updateConfig('swarm.UpdateConfig'),
  RollbackConfig: updateConfig('swarm.UpdateConfig'),
  Networks: sliceOf(networkAttachment),
  EndpointSpec: struct('swarm.EndpointSpec', {
    Mode: named('swarm.ResolutionMode'),
    Ports: sliceOf(
      struct('swarm.PortConfig', {
        Name: str,
        Protocol: named('swarm.PortConfigProtocol'),
        TargetPort: uint32,
        PublishedPort: uint32,
        PublishMode: named('swarm.PortConfigPublishMode'),
      }),
    ),
  }),
  // shoal's extensions (docs/api-extensions.md).
  Rebalance: uint64,
  DependsOn: sliceOf(struct('shoal.ServiceDependency', { Service: str, Condition: str })),
});

export const CLUSTER_SPEC = struct('swarm.Spec', {
  Name: str,
  Labels: stringMap,
  Orchestration: struct('swarm.OrchestrationConfig', { TaskHistoryRetentionLimit: int64 }),
  Raft: struct('swarm.RaftConfig', {
    SnapshotInterval: uint64,
    KeepOldSnapshots: uint64,
    LogEntriesForSlowFollowers: uint64,
    ElectionTick: int,
    HeartbeatTick: int,
  }),
  Dispatcher: struct('swarm.DispatcherConfig', { HeartbeatPeriod: duration }),
  CAConfig: struct('swarm.CAConfig', {
    NodeCertExpiry: duration,
    ExternalCAs: sliceOf(
      struct('swarm.ExternalCA', {
        Protocol: named('swarm.ExternalCAProtocol'),
        URL: str,
        Options: stringMap,
        CACert: str,
      }),
    ),
    SigningCACert: str,
    SigningCAKey: str,
    ForceRotate: uint64,
  }),
  TaskDefaults: struct('swarm.TaskDefaults', { LogDriver: driver }),
  EncryptionConfig: struct('swarm.EncryptionConfig', { AutoLockManagers: bool }),
});

export const NODE_SPEC = struct('swarm.NodeSpec', {
  Name: str,
  Labels: stringMap,
  Role: named('swarm.NodeRole'),
  Availability: named('swarm.NodeAvailability'),
});

export const INIT_REQUEST = struct('swarm.InitRequest', {
  ListenAddr: str,
  AdvertiseAddr: str,
  DataPathAddr: str,
  DataPathPort: uint32,
  ForceNewCluster: bool,
  Spec: CLUSTER_SPEC,
  AutoLockManagers: bool,
  Availability: named('swarm.NodeAvailability'),
  DefaultAddrPool: strings,
  SubnetSize: uint32,
});

export const JOIN_REQUEST = struct('swarm.JoinRequest', {
  ListenAddr: str,
  AdvertiseAddr: str,
  DataPathAddr: str,
  RemoteAddrs: strings,
  JoinToken: str,
  Availability: named('swarm.NodeAvailability'),
});

export const UNLOCK_REQUEST = struct('swarm.UnlockRequest', { UnlockKey: str });

export const NETWORK_CREATE = struct('types.NetworkCreateRequest', {
  Name: str,
  CheckDuplicate: bool,
  Driver: str,
  Scope: str,
  EnableIPv6: bool,
  IPAM: struct('network.IPAM', {
    Driver: str,
    Options: stringMap,
    Config: sliceOf(struct('network.IPAMConfig', { Subnet: str, IPRange: str, Gateway: str, AuxAddress: stringMap })),
  }),
  Internal: bool,
  Attachable: bool,
  Ingress: bool,
  ConfigOnly: bool,
  ConfigFrom: struct('network.ConfigReference', { Network: str }),
  Options: stringMap,
  Labels: stringMap,
});

/** `secret create` and stack deploy's secret updates; Data is []byte (base64 on the wire). */
export const SECRET_SPEC = struct('swarm.SecretSpec', {
  Name: str,
  Labels: stringMap,
  Data: str,
  Driver: driver,
  Templating: driver,
});

/** Configs have no Driver field in Go: one sent is dropped, as Go's decoder drops unknown fields. */
export const CONFIG_SPEC = struct('swarm.ConfigSpec', { Name: str, Labels: stringMap, Data: str, Templating: driver });
