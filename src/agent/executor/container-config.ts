/**
 * Task → Docker `POST /containers/create` body: the pure half of the executor. System labels
 * override user labels; the engine never restarts a task container (shoal does); only `mode=host`
 * ports are bound on the node.
 */
import type { Mount, TaskObject } from '../../store/types.js';
import { LABEL } from './labels.js';

export interface OwnerContext {
  clusterId: string;
  nodeId: string;
}

export interface CreateRequest {
  name: string;
  body: Record<string, unknown>;
  /** Networks to connect after create (the first one is attached at create time). */
  extraNetworks: { name: string; ipv4: string; aliases: string[] }[];
}

/** `web.3.<taskid>`; global tasks use the node id instead of the slot, as Docker names them. */
export function taskName(task: TaskObject): string {
  const service = task.ServiceAnnotations.Name;
  return task.Slot > 0 ? `${service}.${task.Slot}.${task.ID}` : `${service}.${task.NodeID ?? ''}.${task.ID}`;
}

function mountBody(m: Mount): Record<string, unknown> {
  const out: Record<string, unknown> = { Type: m.Type, Target: m.Target, ReadOnly: Boolean(m.ReadOnly) };
  if (m.Source) out.Source = m.Source;
  if (m.Consistency) out.Consistency = m.Consistency;
  if (m.BindOptions) out.BindOptions = m.BindOptions;
  if (m.VolumeOptions) out.VolumeOptions = m.VolumeOptions;
  if (m.TmpfsOptions) out.TmpfsOptions = m.TmpfsOptions;
  return out;
}

const stripPrefix = (addr: string): string => addr.split('/')[0] ?? addr;

export function containerCreateRequest(task: TaskObject, owner: OwnerContext): CreateRequest {
  const c = task.Spec.ContainerSpec ?? { Image: '' };
  const name = taskName(task);
  const labels: Record<string, string> = {
    ...(c.Labels ?? {}),
    [LABEL.task]: '',
    [LABEL.taskId]: task.ID,
    [LABEL.taskName]: name,
    [LABEL.nodeId]: task.NodeID ?? owner.nodeId,
    [LABEL.serviceId]: task.ServiceID,
    [LABEL.serviceName]: task.ServiceAnnotations.Name,
    [LABEL.shoalCluster]: owner.clusterId,
    [LABEL.shoalNode]: owner.nodeId,
    [LABEL.shoalTask]: task.ID,
  };
  const res = task.Spec.Resources?.Limits ?? {};
  const hostConfig: Record<string, unknown> = {
    RestartPolicy: { Name: 'no' },
    Mounts: (c.Mounts ?? []).map(mountBody),
    Init: c.Init ?? undefined,
    ReadonlyRootfs: Boolean(c.ReadOnly),
    ExtraHosts: (c.Hosts ?? [])
      .map((h) => {
        const [ip, ...names] = h.trim().split(/\s+/);
        return names.map((n) => `${n}:${ip}`).join(',');
      })
      .flatMap((s) => s.split(','))
      .filter(Boolean),
    Dns: c.DNSConfig?.Nameservers ?? [],
    DnsSearch: c.DNSConfig?.Search ?? [],
    DnsOptions: c.DNSConfig?.Options ?? [],
    Sysctls: c.Sysctls ?? undefined,
    CapAdd: c.CapabilityAdd ?? undefined,
    CapDrop: c.CapabilityDrop ?? undefined,
    NanoCpus: res.NanoCPUs ?? 0,
    Memory: res.MemoryBytes ?? 0,
    PidsLimit: res.Pids ?? undefined,
    PortBindings: {} as Record<string, { HostIp: string; HostPort: string }[]>,
  };
  if (task.Spec.LogDriver?.Name)
    hostConfig.LogConfig = { Type: task.Spec.LogDriver.Name, Config: task.Spec.LogDriver.Options ?? {} };
  const exposed: Record<string, Record<string, never>> = {};
  for (const p of task.Endpoint?.Ports ?? []) {
    if (p.PublishMode !== 'host') continue;
    const key = `${p.TargetPort}/${p.Protocol ?? 'tcp'}`;
    exposed[key] = {};
    const bindings = (hostConfig.PortBindings as Record<string, { HostIp: string; HostPort: string }[]>)[key] ?? [];
    bindings.push({ HostIp: '', HostPort: p.PublishedPort ? String(p.PublishedPort) : '' });
    (hostConfig.PortBindings as Record<string, unknown>)[key] = bindings;
  }
  const body: Record<string, unknown> = {
    Image: c.Image,
    Labels: labels,
    Env: c.Env ?? [],
    Hostname: c.Hostname || undefined,
    User: c.User || undefined,
    WorkingDir: c.Dir || undefined,
    Tty: Boolean(c.TTY),
    OpenStdin: Boolean(c.OpenStdin),
    StopSignal: c.StopSignal || undefined,
    StopTimeout: c.StopGracePeriod !== undefined ? Math.ceil(c.StopGracePeriod / 1e9) : undefined,
    ExposedPorts: exposed,
    HostConfig: hostConfig,
  };
  if (c.Command?.length) body.Entrypoint = c.Command;
  if (c.Args?.length) body.Cmd = c.Args;
  const hc = c.Healthcheck;
  if (hc) {
    body.Healthcheck = {
      Test: hc.Test ?? [],
      Interval: hc.Interval ?? 0,
      Timeout: hc.Timeout ?? 0,
      Retries: hc.Retries ?? 0,
      StartPeriod: hc.StartPeriod ?? 0,
    };
  }
  const nets = (task.Networks ?? []).map((n) => ({
    name: n.DockerNetwork,
    ipv4: stripPrefix(n.Addresses[0] ?? ''),
    aliases: n.Aliases ?? [],
  }));
  const [first, ...rest] = nets;
  if (first) {
    hostConfig.NetworkMode = first.name;
    body.NetworkingConfig = {
      EndpointsConfig: {
        [first.name]: { IPAMConfig: first.ipv4 ? { IPv4Address: first.ipv4 } : undefined, Aliases: first.aliases },
      },
    };
  }
  // Drop undefined so the engine sees only what was set.
  return { name, body: JSON.parse(JSON.stringify(body)) as Record<string, unknown>, extraNetworks: rest };
}
