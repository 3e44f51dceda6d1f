/**
 * Every message that crosses the cluster port, as a schema with size limits. A body that does not
 * match is refused with 400 before any handler sees it; a status report is checked update by update,
 * so one bad update is dropped on its own and never blocks the others.
 */
import { z } from 'zod';
import { TASK_STATES } from '../store/types.js';

const id = z.string().min(1).max(64);
const short = z.string().max(256);
const labels = z
  .record(z.string().max(1024), z.string().max(4096))
  .refine((r) => Object.keys(r).length <= 256, 'too many labels');
const pem = z.string().max(64 * 1024);
/** `ip:port` or `[ipv6]:port`. */
const hostPort = z
  .string()
  .min(3)
  .max(300)
  .regex(/^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]]+):\d{1,5}$/, 'must be host:port');
const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const NodeDescriptionSchema = z.object({
  Hostname: short,
  Platform: z.object({ Architecture: short, OS: short }),
  Resources: z.object({ NanoCPUs: count, MemoryBytes: count }),
  Engine: z.object({
    EngineVersion: short,
    Labels: labels.optional(),
    Plugins: z.array(z.object({ Type: short, Name: short })).max(256),
  }),
});

export const TlsInfoSchema = z.object({
  TrustRoot: pem,
  CertIssuerSubject: z.string().max(8192),
  CertIssuerPublicKey: z.string().max(8192),
});

export const JoinCallSchema = z.object({
  token: z.string().max(512),
  csr: pem,
  addr: hostPort,
  availability: z.enum(['active', 'pause', 'drain']),
  description: NodeDescriptionSchema,
});

export const EmptySchema = z.unknown().transform(() => ({}));
export const CsrCallSchema = z.object({ csr: pem });
export const CaSyncCallSchema = z.object({ tls: TlsInfoSchema });

export const ForwardedCallSchema = z.object({ method: z.string().max(64), args: z.array(z.unknown()).max(8) });
export const ForwardedLogsSchema = z.object({
  kind: z.enum(['service', 'task']),
  ref: short,
  opts: z.object({
    follow: z.boolean(),
    tail: count.optional(),
    since: z.number().nonnegative().optional(),
    stdout: z.boolean(),
    stderr: z.boolean(),
  }),
});

/** A node's own container on an attachable overlay (the node is the caller's certificate, never the body). */
export const AttachCallSchema = z.object({
  Target: z.string().min(1).max(256),
  AttachmentID: z.string().regex(/^[a-z0-9]{1,64}$/),
  ContainerID: z
    .string()
    .regex(/^[0-9a-f]{1,128}$/)
    .optional(),
  Address: z.string().max(64).optional(),
  Aliases: z.array(z.string().min(1).max(255)).max(64).optional(),
});
export const DetachCallSchema = z.object({
  AttachmentIDs: z.array(id).max(256).optional(),
  ContainerID: z
    .string()
    .regex(/^[0-9a-f]{1,128}$/)
    .optional(),
  NetworkID: id.optional(),
});
export const NetworkRefCallSchema = z.object({ ref: z.string().min(1).max(256) });
export const ContainerRefCallSchema = z.object({ containerId: z.string().regex(/^[0-9a-f]{1,128}$/) });

export const SessionCallSchema = z.object({ description: NodeDescriptionSchema, addr: z.string().max(300) });
export const SessionRefSchema = z.object({ sessionId: id });
export const StatusCallSchema = z.object({ sessionId: id, updates: z.array(z.unknown()).max(5000) });

export const TaskStatusUpdateSchema = z.object({
  taskId: id,
  status: z.object({
    Timestamp: z.number(),
    State: z.enum(TASK_STATES),
    Message: z.string().max(4096),
    Err: z.string().max(4096).optional(),
    ContainerStatus: z.object({ ContainerID: z.string().max(128), PID: count, ExitCode: z.number().int() }).optional(),
    PortStatus: z
      .object({
        Ports: z
          .array(
            z.object({
              Name: short.optional(),
              Protocol: z.enum(['tcp', 'udp', 'sctp']).optional(),
              TargetPort: z.number().int().min(0).max(65535),
              PublishedPort: z.number().int().min(0).max(65535).optional(),
              PublishMode: z.enum(['ingress', 'host']).optional(),
            }),
          )
          .max(1024)
          .optional(),
      })
      .optional(),
  }),
});

export const PublishCallSchema = z.object({
  id: id,
  lines: z
    .array(
      z.object({
        stream: z.union([z.literal(1), z.literal(2)]),
        timestamp: z.string().max(64),
        line: z.string().max(1024 * 1024),
      }),
    )
    .max(10_000),
  done: z.boolean().optional(),
  error: z.string().max(4096).optional(),
});

/** How deep a JSON body may nest before it is refused (deep nesting breaks structuredClone and stacks). */
export const MAX_JSON_DEPTH = 64;

/** True when `v` nests no deeper than `max` (checked iteratively: a hostile body must not blow the stack). */
export function withinDepth(v: unknown, max = MAX_JSON_DEPTH): boolean {
  const stack: [unknown, number][] = [[v, 0]];
  while (stack.length) {
    const [x, d] = stack.pop()!;
    if (x === null || typeof x !== 'object') continue;
    if (d >= max) return false;
    for (const c of Array.isArray(x) ? x : Object.values(x)) stack.push([c, d + 1]);
  }
  return true;
}

/** The first issue of a failed parse, worded for a client. */
export function schemaProblem(e: z.ZodError): string {
  const i = e.issues[0];
  return i ? `${i.path.length ? i.path.join('.') + ': ' : ''}${i.message}` : 'invalid message';
}

const ipv4 = z
  .string()
  .max(15)
  .regex(/^\d{1,3}(\.\d{1,3}){3}$/, 'must be an IPv4 address');
const cidr4 = z
  .string()
  .max(18)
  .regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, 'must be an IPv4 CIDR');
const dnsName = z.string().min(1).max(255);

/**
 * The overlays part of a node's assignments (manager → agent). Its values reach `ip`, `bridge` and
 * `nft` command lines and the DNS tables, so the agent checks them before use.
 */
export const NetworkViewSchema = z.object({
  networks: z
    .array(
      z.object({
        id,
        name: short,
        subnet: cidr4,
        gateway: ipv4,
        vni: z
          .number()
          .int()
          .min(1)
          .max(2 ** 24 - 1),
        internal: z.boolean(),
        ingress: z.boolean().optional(),
      }),
    )
    .max(1024),
  endpoints: z
    .array(
      z.object({
        networkId: id,
        ip: ipv4,
        nodeId: id,
        hostIp: z.union([ipv4, z.literal('')]),
        taskId: id,
        taskName: dnsName,
        serviceName: z.union([dnsName, z.literal('')]),
        aliases: z.array(dnsName).max(64),
        serving: z.boolean(),
        attachment: z.literal(true).optional(),
      }),
    )
    .max(100_000),
  services: z
    .array(
      z.object({
        networkId: id,
        name: dnsName,
        mode: z.enum(['vip', 'dnsrr']),
        vip: ipv4.optional(),
        aliases: z.array(dnsName).max(64),
      }),
    )
    .max(100_000),
  mesh: z
    .object({
      networkId: id,
      nodeAddress: cidr4,
      peers: z.array(z.object({ ip: ipv4, hostIp: ipv4 })).max(10_000),
      ports: z
        .array(
          z.object({
            protocol: z.enum(['tcp', 'udp', 'sctp']),
            publishedPort: z.number().int().min(1).max(65535),
            targetPort: z.number().int().min(1).max(65535),
            backends: z.array(ipv4).max(100_000),
          }),
        )
        .max(10_000),
    })
    .optional(),
  dataPathPort: z.number().int().min(1024).max(49151).optional(),
});

/** base64 of at most a config's 1000 KiB (the larger of the two limits). */
const payloadData = z
  .string()
  .max(Math.ceil((1000 * 1024) / 3) * 4)
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');

/**
 * The secrets and configs part of a node's assignments (manager → agent): the complete set the node
 * may hold now. Their bytes end up in files on the node, so kind, id and encoding are checked first.
 */
export const AssignedPayloadsSchema = z
  .array(z.object({ kind: z.enum(['secret', 'config']), id, data: payloadData }))
  .max(1024);
