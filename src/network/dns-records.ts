/**
 * What the embedded DNS knows, as one immutable snapshot the agent rebuilds from the dispatcher's
 * assignments whenever tasks or services change (swap the snapshot; answers follow at once).
 * Resolution is scoped: a client sees only names on the networks it is attached to, so two
 * services that share no network cannot even learn each other's addresses (seed 003).
 */

/** A task or attachable container on one network. */
export interface DnsEndpoint {
  readonly networkId: string;
  /** Plain address on that network. */
  readonly ip: string;
  /** The container (or task) this endpoint belongs to: how a client's other networks are found. */
  readonly owner: string;
  /** Docker's task name (`web.1.<taskid>`); answered like a container name. */
  readonly taskName?: string;
  /** The service the task belongs to (absent for a plain attachable container). */
  readonly serviceName?: string;
  /** Network aliases of the attachment (`--network-alias`, compose `aliases`). */
  readonly aliases?: readonly string[];
  /** Only running, healthy endpoints are answered for `tasks.NAME` and dnsrr services. */
  readonly serving: boolean;
}

/** A service on one network. */
export interface DnsService {
  readonly networkId: string;
  readonly name: string;
  readonly mode: 'vip' | 'dnsrr';
  /** The VIP on this network (vip mode). */
  readonly vip?: string;
  /** Aliases of the service on this network, answered like its name. */
  readonly aliases?: readonly string[];
}

export interface DnsNetwork {
  readonly id: string;
  /** The gateway address the resolver listens on for this network on each host. */
  readonly gateway: string;
}

export interface DnsSnapshot {
  readonly networks: readonly DnsNetwork[];
  readonly services: readonly DnsService[];
  readonly endpoints: readonly DnsEndpoint[];
}

/** The outcome of looking a name up for one client. */
export type DnsResolution =
  /** Known on a network the client shares: these addresses (maybe none: the service has no task). */
  | { readonly kind: 'answer'; readonly ips: readonly string[] }
  /** Known only on networks the client is not on: does not exist for it. */
  | { readonly kind: 'nxdomain' }
  /** Not a cluster name: ask the host's resolvers. */
  | { readonly kind: 'forward' };

/** What the DNS server asks; the agent implements it (LiveDnsRecords) from its assignments. */
export interface DnsRecordSource {
  /** The networks of the container that owns `clientIp`, asked through `localAddress`. */
  clientNetworks(clientIp: string, localAddress?: string): readonly string[];
  resolve(name: string, networks: readonly string[]): DnsResolution;
}

export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** A snapshot indexed for lookups. Pure and immutable. */
export class DnsTable implements DnsRecordSource {
  /** name -> network -> addresses */
  private readonly names = new Map<string, Map<string, string[]>>();
  private readonly endpointsByIp = new Map<string, DnsEndpoint[]>();
  private readonly networksByOwner = new Map<string, string[]>();
  private readonly gateways = new Map<string, string[]>();

  constructor(snapshot: DnsSnapshot) {
    for (const n of snapshot.networks) this.push(this.gateways, n.gateway, n.id);
    for (const e of snapshot.endpoints) {
      this.push(this.endpointsByIp, e.ip, e);
      const nets = this.networksByOwner.get(e.owner) ?? [];
      if (!nets.includes(e.networkId)) nets.push(e.networkId);
      this.networksByOwner.set(e.owner, nets);
    }
    const serving = (net: string, svc: string): string[] =>
      snapshot.endpoints.filter((e) => e.networkId === net && e.serviceName === svc && e.serving).map((e) => e.ip);
    // A service's aliases are names of the service, as Docker's resolver has them: the VIP (or the
    // task addresses in dnsrr mode), and `tasks.ALIAS` for the task addresses.
    const serviceAliases = new Set<string>();
    for (const s of snapshot.services) {
      const ips = s.mode === 'vip' ? (s.vip ? [s.vip] : []) : serving(s.networkId, s.name);
      for (const n of [s.name, ...(s.aliases ?? [])]) {
        this.add(n, s.networkId, ips);
        this.add(`tasks.${n}`, s.networkId, serving(s.networkId, s.name));
      }
      for (const a of s.aliases ?? []) serviceAliases.add(`${s.networkId}|${s.name}|${normalizeName(a)}`);
    }
    for (const e of snapshot.endpoints) {
      // A stopped task's own name still exists (it is NXDOMAIN for nobody) but has no address.
      const ips = e.serving ? [e.ip] : [];
      if (e.taskName) this.add(e.taskName, e.networkId, ips);
      // Tasks carry their service's aliases in their attachments; those stay the service's.
      for (const a of e.aliases ?? [])
        if (!serviceAliases.has(`${e.networkId}|${e.serviceName}|${normalizeName(a)}`)) this.add(a, e.networkId, ips);
    }
  }

  private push<T>(m: Map<string, T[]>, k: string, v: T): void {
    const list = m.get(k) ?? [];
    list.push(v);
    m.set(k, list);
  }

  private add(name: string, network: string, ips: readonly string[]): void {
    const key = normalizeName(name);
    const byNet = this.names.get(key) ?? new Map<string, string[]>();
    const list = byNet.get(network) ?? [];
    for (const ip of ips) if (!list.includes(ip)) list.push(ip);
    byNet.set(network, list);
    this.names.set(key, byNet);
  }

  clientNetworks(clientIp: string, localAddress?: string): readonly string[] {
    let eps = this.endpointsByIp.get(clientIp) ?? [];
    // The same address may exist on two overlays with overlapping user subnets: the gateway the
    // query arrived on says which one the client is on.
    const via = localAddress ? this.gateways.get(localAddress) : undefined;
    if (via) eps = eps.filter((e) => via.includes(e.networkId));
    const out: string[] = [];
    for (const e of eps) for (const n of this.networksByOwner.get(e.owner) ?? []) if (!out.includes(n)) out.push(n);
    return out;
  }

  resolve(name: string, networks: readonly string[]): DnsResolution {
    const byNet = this.names.get(normalizeName(name));
    if (!byNet) return { kind: 'forward' };
    // Like Docker, the first of the client's networks that knows the name answers.
    for (const n of networks) {
      const ips = byNet.get(n);
      if (ips) return { kind: 'answer', ips };
    }
    return { kind: 'nxdomain' };
  }
}

/** The agent's live record source: swap in a new snapshot on every assignment change. */
export class LiveDnsRecords implements DnsRecordSource {
  private table = new DnsTable({ networks: [], services: [], endpoints: [] });

  update(snapshot: DnsSnapshot): void {
    this.table = new DnsTable(snapshot);
  }

  clientNetworks(clientIp: string, localAddress?: string): readonly string[] {
    return this.table.clientNetworks(clientIp, localAddress);
  }

  resolve(name: string, networks: readonly string[]): DnsResolution {
    return this.table.resolve(name, networks);
  }
}
