/**
 * The overlays on this host, driven by the assignments: a network is plumbed (VXLAN device + host
 * link, the engine's macvlan network on it, the DNS listener on its gateway) while a task here needs it and
 * removed after; remote endpoints get static FDB/neighbour entries from the dispatcher's view
 * (added when a task appears elsewhere, removed when it goes), the embedded DNS gets the view's
 * records, each running task's container gets a VIP table in its own network namespace, and the
 * host gets the egress table. Every change runs one at a time, in order.
 */
import { errorMessage } from '../../common/errors.js';
import type { Logger } from '../../common/logging.js';
import { hostPart } from '../../network/addresses.js';
import { parseCidr } from '../../network/cidr.js';
import type { LiveDnsRecords } from '../../network/dns-records.js';
import { HOST_LINK_PREFIX, hostLinkName } from '../../network/device-names.js';
import { egressRuleset, EGRESS_TABLE_SUFFIX } from '../../network/egress-rules.js';
import { DEFAULT_DATA_PATH_PORT } from '../../network/data-path-port.js';
import { goneRuleset, GONE_TABLE_SUFFIX, type GoneEndpoints } from '../../network/gone-rules.js';
import { HOST_PORTS_TABLE_SUFFIX, hostPortRuleset, type HostPort } from '../../network/host-port-rules.js';
import { MESH_TABLE_SUFFIX, meshRuleset } from '../../network/mesh-rules.js';
import { replaceScript, ruleset, type NftRuleset } from '../../network/nft-ruleset.js';
import type { NetworkPlumbing, RemoteEndpoint } from '../../network/plumbing.js';
import { vipRuleset, type VipBackends } from '../../network/vip-rules.js';
import type { NetworkView, ViewEndpoint, ViewNetwork } from '../../manager/dispatcher/session.js';
import { stateRank, type TaskObject } from '../../store/types.js';
import type { DockerNetworks } from './docker-networks.js';

/** What listens for DNS on gateways (DnsServer in production). */
export interface DnsListener {
  listen(address: string): Promise<unknown>;
  close(address: string): Promise<void>;
  closeAll(): Promise<void>;
}

export interface HostNetworksOptions {
  nodeId: string;
  /** This host's underlay (data-path) address: VXLAN packets leave from it. */
  underlayIp: string;
  plumbing: NetworkPlumbing;
  /** The same plumbing inside a container's network namespace (`/proc/PID/ns/net`). */
  inContainer: (pid: number) => NetworkPlumbing;
  docker: DockerNetworks;
  records: LiveDnsRecords;
  dns: DnsListener;
  logger: Logger;
}

interface ActiveNetwork {
  readonly net: ViewNetwork;
  /** This node's own address on the host link (the ingress network while the mesh runs). */
  readonly hostAddress: string | undefined;
  /** The VXLAN device's UDP port. */
  readonly dstPort: number;
  /** Remote endpoints programmed, by IP. */
  readonly remotes: Map<string, RemoteEndpoint>;
}

const EMPTY: NetworkView = { networks: [], endpoints: [], services: [] };
const RETRY_MS = 2000;
/** How long a just-started attachable container's DNS question waits for its VIP table. */
const CLIENT_GATE_MS = 3000;

/** A task whose container may be on its networks now or soon. */
function needsNetworks(t: TaskObject): boolean {
  return stateRank(t.Status.State) < stateRank('complete') && t.DesiredState !== 'remove';
}

export class HostNetworks {
  private view: NetworkView = EMPTY;
  private tasks: readonly TaskObject[] = [];
  private readonly active = new Map<string, ActiveNetwork>();
  /** The VIP table text applied per task container (keyed with its PID). */
  private readonly vipApplied = new Map<string, string>();
  private egressApplied = '';
  /** The gone table text applied ('' when none). */
  private goneApplied = '';
  /**
   * Tasks of this node whose containers this agent saw end, until the view drops them: their
   * addresses leave local VIP tables and DNS answers at once and are refused on the VXLAN devices,
   * without waiting for the managers to record the end and send a new view.
   */
  private readonly endedHere = new Set<string>();
  /** The mesh table text applied. */
  private meshApplied = '';
  /** The host-mode ports table text applied ('' when none). */
  private hostPortsApplied = '';
  private chain: Promise<void> = Promise.resolve();
  private syncQueued = false;
  private firstSync = true;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  /** Started attachable containers' PIDs, by their address on an overlay (`containerStarted`). */
  private readonly attachedPids = new Map<string, number>();
  /** Addresses of attachable containers that have their VIP table (or need none). */
  private readonly attachedReady = new Set<string>();
  /** Woken after each sync or programming pass. */
  private waiters: (() => void)[] = [];

  constructor(private readonly o: HostNetworksOptions) {}

  /**
   * An attachable container here has started (the Engine API saw its start): its namespace gets the
   * VIP tables of the services on its networks, as a task's does.
   */
  containerStarted(addresses: readonly string[], pid: number): void {
    for (const ip of addresses) {
      this.attachedPids.set(ip, pid);
      this.attachedReady.delete(ip);
    }
    this.kick();
  }

  /**
   * Resolves once the attachment `ip` (plain address) of this node on the overlay is in the view and
   * the overlay is plumbed here with its Docker network. Checked inside the serial chain: a network
   * that the previous attachable container's departure is taking down right now counts only once a
   * pass has brought it back.
   */
  async whenNetworkReady(networkId: string, ip: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ready = await this.serial(async () => {
        const n = this.view.networks.find((x) => x.id === networkId);
        const mine = this.view.endpoints.some(
          (e) => e.attachment && e.nodeId === this.o.nodeId && e.networkId === networkId && e.ip === ip,
        );
        if (!n || !mine) return false;
        await this.ensureNetwork(n);
        await this.program();
        return true;
      });
      if (ready) return;
      const left = deadline - Date.now();
      if (left <= 0 || this.closed) throw new Error(`network ${networkId} was not set up on this node in time`);
      await this.nextPass(left);
    }
  }

  /**
   * For the embedded DNS: a local attachable container that has started but has no VIP table yet is
   * answered once it has one (bounded), so its first connection to a VIP is load-balanced.
   */
  async clientGate(clientIp: string): Promise<void> {
    const deadline = Date.now() + CLIENT_GATE_MS;
    for (;;) {
      const e = this.view.endpoints.find((x) => x.attachment && x.nodeId === this.o.nodeId && x.ip === clientIp);
      if (!e || this.attachedReady.has(clientIp) || this.closed) return;
      const left = deadline - Date.now();
      if (left <= 0) return;
      await this.nextPass(left);
    }
  }

  private nextPass(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, Math.min(timeoutMs, 500));
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** This agent saw the container of one of its tasks end (its own status report says so). */
  taskEnded(taskId: string): void {
    if (this.endedHere.has(taskId) || this.closed) return;
    this.endedHere.add(taskId);
    this.kick();
  }

  /** A new assignment set: reconcile the host with it (coalesced). */
  update(view: NetworkView, tasks: readonly TaskObject[]): void {
    this.view = view;
    this.tasks = tasks;
    this.kick();
  }

  /**
   * Before a task's container is created: its networks exist here. Returns the task to create, with
   * the overlay gateway (the embedded DNS) as its resolver unless the spec names its own.
   */
  prepare(task: TaskObject): Promise<TaskObject> {
    return this.serial(async () => {
      const nets = (task.Networks ?? []).map((a) => this.view.networks.find((n) => n.id === a.NetworkID));
      if (nets.some((n) => !n)) throw new Error(`network of task ${task.ID} is not known on this node yet`);
      for (const n of nets) await this.ensureNetwork(n!);
      await this.program();
      // The ingress network comes first (swarmkit's order) but serves no names: resolve on another.
      const first = nets.find((n) => !n!.ingress) ?? nets[0];
      const c = task.Spec.ContainerSpec;
      if (!first || !c || c.DNSConfig?.Nameservers?.length) return task;
      return {
        ...task,
        Spec: {
          ...task.Spec,
          ContainerSpec: { ...c, DNSConfig: { ...(c.DNSConfig ?? {}), Nameservers: [first.gateway] } },
        },
      };
    });
  }

  /** Stops answering DNS (agent stop); the plumbing stays for the containers that keep running. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    await this.chain;
    await this.o.dns.closeAll();
  }

  /** Removes everything shoal made on this host for overlays (swarm leave, node removal). */
  removeAll(): Promise<void> {
    return this.serial(async () => {
      await this.o.dns.closeAll();
      for (const name of await this.o.docker.listOwned())
        await this.o.docker.remove(name).catch((e: unknown) => this.warn('removing docker network', name, e));
      await this.o.plumbing.cleanup();
      this.active.clear();
      this.egressApplied = '';
      this.goneApplied = '';
      this.meshApplied = '';
      this.hostPortsApplied = '';
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn);
    this.chain = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  }

  private kick(): void {
    if (this.syncQueued || this.closed) return;
    this.syncQueued = true;
    void this.serial(async () => {
      this.syncQueued = false;
      try {
        await this.sync();
      } catch (e) {
        this.warn('overlay sync', '', e);
        this.scheduleRetry();
      } finally {
        this.wake();
      }
    });
  }

  private scheduleRetry(): void {
    if (this.retry || this.closed) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.kick();
    }, RETRY_MS);
    this.retry.unref();
  }

  private async sync(): Promise<void> {
    const needed = new Set<string>();
    for (const t of this.tasks) if (needsNetworks(t)) for (const a of t.Networks ?? []) needed.add(a.NetworkID);
    // Attachable containers of this node (their attachments are in the store until they go).
    const attached = new Set<string>();
    for (const e of this.view.endpoints)
      if (e.attachment && e.nodeId === this.o.nodeId) {
        needed.add(e.networkId);
        attached.add(e.ip);
      }
    for (const ip of [...this.attachedPids.keys()]) if (!attached.has(ip)) this.attachedPids.delete(ip);
    for (const ip of [...this.attachedReady]) if (!attached.has(ip)) this.attachedReady.delete(ip);
    for (const id of [...this.endedHere])
      if (!this.view.endpoints.some((e) => e.taskId === id)) this.endedHere.delete(id);
    // Every node runs the mesh while a service publishes through it, with or without a task.
    if (this.view.mesh) needed.add(this.view.mesh.networkId);
    for (const n of this.view.networks) if (needed.has(n.id)) await this.ensureNetwork(n);
    await this.program();
    let leftover = false;
    for (const id of [...this.active.keys()]) {
      if (needed.has(id) && this.view.networks.some((n) => n.id === id)) continue;
      if (!(await this.removeNetwork(id))) leftover = true;
    }
    if (this.firstSync) {
      this.firstSync = false;
      await this.removeLeftovers();
    }
    if (leftover) this.scheduleRetry();
  }

  private async ensureNetwork(n: ViewNetwork): Promise<void> {
    const cur = this.active.get(n.id);
    const mesh = this.view.mesh?.networkId === n.id ? this.view.mesh : undefined;
    const hostAddress = mesh?.nodeAddress ?? cur?.hostAddress;
    const dstPort = this.view.dataPathPort ?? DEFAULT_DATA_PATH_PORT;
    if (
      cur &&
      cur.dstPort === dstPort &&
      cur.net.vni === n.vni &&
      cur.net.gateway === n.gateway &&
      cur.net.subnet === n.subnet &&
      cur.hostAddress === hostAddress
    )
      return;
    const name = hostLinkName(n.id);
    const subnet = parseCidr(n.subnet);
    if (!subnet) throw new Error(`network ${n.id} has an invalid subnet ${n.subnet}`);
    // The mesh's host link carries the node's ingress address (its MAC derived from it, so peers can
    // program it like a task) and lets 127.0.0.1-sourced flows out (the mesh from the host itself).
    const spec = {
      networkId: n.id,
      vni: n.vni,
      localUnderlayIp: this.o.underlayIp,
      dstPort,
      gateway: `${n.gateway}/${subnet.bits}`,
      ...(hostAddress ? { hostAddress, routeLocalnet: true } : {}),
    };
    const { vxlan } = await this.o.plumbing.ensureOverlay(spec);
    await this.o.docker.ensure({
      name,
      parent: vxlan,
      networkId: n.id,
      subnet: n.subnet,
      gateway: n.gateway,
      internal: n.internal,
    });
    // Routed traffic of the overlay past Docker's FORWARD policy; isolation is the egress table's.
    await this.o.plumbing.setForwardAccept(name, true);
    // The embedded DNS answers on the gateway address of the host link.
    await this.o.dns.listen(n.gateway).catch((e: unknown) => this.warn('dns listen', n.gateway, e));
    const remotes = new Map<string, RemoteEndpoint>();
    for (const r of await this.o.plumbing.listRemoteEndpoints(n.id)) remotes.set(r.ip, r);
    this.active.set(n.id, { net: n, hostAddress, dstPort, remotes });
  }

  /** True when everything of the network is gone from this host. */
  private async removeNetwork(id: string): Promise<boolean> {
    const a = this.active.get(id);
    if (a) await this.o.dns.close(a.net.gateway);
    try {
      await this.o.docker.remove(hostLinkName(id));
    } catch (e) {
      // A container still attached (being removed): try again shortly.
      this.warn('removing docker network', hostLinkName(id), e);
      return false;
    }
    await this.o.plumbing.setForwardAccept(hostLinkName(id), false);
    await this.o.plumbing.removeOverlay(id);
    this.active.delete(id);
    return true;
  }

  /**
   * FDB/neighbour entries, DNS records, VIP tables and the egress, gone and mesh tables, from the
   * current view. A new remote endpoint is programmed before any VIP table lists it, and one that
   * went is unprogrammed only after the VIP tables stopped picking it: no connection goes to an
   * address this host cannot reach.
   */
  private async program(): Promise<void> {
    const wanted = new Map<string, Map<string, RemoteEndpoint>>();
    for (const [id, a] of this.active) {
      const want = new Map<string, RemoteEndpoint>();
      for (const e of this.view.endpoints)
        if (e.networkId === id && e.nodeId !== this.o.nodeId && e.hostIp)
          want.set(e.ip, { ip: e.ip, hostIp: e.hostIp });
      // Other nodes' ingress addresses: replies of local tasks to mesh flows go back to them.
      if (this.view.mesh?.networkId === id)
        for (const p of this.view.mesh.peers) if (p.hostIp !== this.o.underlayIp) want.set(p.ip, p);
      wanted.set(id, want);
      for (const [ip, r] of want) {
        if (a.remotes.get(ip)?.hostIp === r.hostIp) continue;
        await this.o.plumbing.addRemoteEndpoint(id, r);
        a.remotes.set(ip, r);
      }
    }
    const endpoints = this.view.endpoints.map((e) => (this.endedLocally(e) ? { ...e, serving: false } : e));
    this.o.records.update({
      networks: [...this.active.values()].map((a) => ({ id: a.net.id, gateway: a.net.gateway })),
      services: this.view.services.map((s) => ({
        networkId: s.networkId,
        name: s.name,
        mode: s.mode,
        aliases: s.aliases,
        ...(s.vip ? { vip: s.vip } : {}),
      })),
      endpoints: endpoints.map((e) => ({
        networkId: e.networkId,
        ip: e.ip,
        owner: e.taskId,
        taskName: e.taskName,
        serviceName: e.serviceName,
        aliases: e.aliases,
        serving: e.serving,
      })),
    });
    await this.programVips(endpoints);
    await this.programGone();
    await this.programEgress();
    await this.programMesh();
    await this.programHostPorts();
    for (const [id, a] of this.active) {
      const want = wanted.get(id);
      for (const [ip, r] of a.remotes) {
        if (want?.get(ip)?.hostIp === r.hostIp) continue;
        await this.o.plumbing.removeRemoteEndpoint(id, r);
        a.remotes.delete(ip);
      }
    }
  }

  private endedLocally(e: ViewEndpoint): boolean {
    return e.nodeId === this.o.nodeId && !e.attachment && this.endedHere.has(e.taskId);
  }

  /** Refuses new flows to the addresses of local tasks that ended, on each active overlay (gone-rules.ts). */
  private async programGone(): Promise<void> {
    const byNet = new Map<string, string[]>();
    for (const e of this.view.endpoints) {
      if (!this.endedLocally(e) || !this.active.has(e.networkId)) continue;
      // An address the view already gives to another endpoint is that one's.
      if (this.view.endpoints.some((o) => o.ip === e.ip && o.networkId === e.networkId && !this.endedLocally(o)))
        continue;
      byNet.set(e.networkId, [...(byNet.get(e.networkId) ?? []), e.ip]);
    }
    const list: GoneEndpoints[] = [...byNet].map(([networkId, ips]) => ({ networkId, ips }));
    if (list.length === 0) {
      if (this.goneApplied) await this.o.plumbing.removeRuleset(ruleset(GONE_TABLE_SUFFIX, '').table, 'netdev');
      this.goneApplied = '';
      return;
    }
    const rs = goneRuleset(list);
    const text = replaceScript(rs);
    if (text === this.goneApplied) return;
    try {
      await this.o.plumbing.applyRuleset(rs);
      this.goneApplied = text;
    } catch (e) {
      // Only a faster failure is lost: the view drops the endpoints soon.
      this.warn('gone table', '', e);
    }
  }

  /** The mesh table while the mesh runs here; none once it stops. */
  private async programMesh(): Promise<void> {
    const mesh = this.view.mesh;
    const rs =
      mesh && this.active.has(mesh.networkId)
        ? meshRuleset({
            ingressLink: hostLinkName(mesh.networkId),
            nodeIngressIp: hostPart(mesh.nodeAddress),
            ports: mesh.ports,
          })
        : undefined;
    this.meshApplied = await this.putTable(MESH_TABLE_SUFFIX, rs, this.meshApplied);
  }

  /** Host-mode published ports of running local tasks on overlays (host-port-rules.ts). */
  private async programHostPorts(): Promise<void> {
    const ports: HostPort[] = [];
    for (const t of this.tasks) {
      const first = t.Networks?.[0];
      if (t.Status.State !== 'running' || !first?.Addresses[0] || !this.active.has(first.NetworkID)) continue;
      for (const p of t.Endpoint?.Ports ?? [])
        if (p.PublishMode === 'host' && p.PublishedPort)
          ports.push({
            protocol: p.Protocol ?? 'tcp',
            publishedPort: p.PublishedPort,
            targetPort: p.TargetPort,
            taskIp: hostPart(first.Addresses[0]),
          });
    }
    this.hostPortsApplied = await this.putTable(
      HOST_PORTS_TABLE_SUFFIX,
      ports.length ? hostPortRuleset(ports) : undefined,
      this.hostPortsApplied,
    );
  }

  /** Replaces a host table with `rs`, or removes it (undefined); returns the text now applied. */
  private async putTable(suffix: string, rs: NftRuleset | undefined, applied: string): Promise<string> {
    if (!rs) {
      if (applied) await this.o.plumbing.removeRuleset(ruleset(suffix, '').table);
      return '';
    }
    const text = replaceScript(rs);
    if (text !== applied) await this.o.plumbing.applyRuleset(rs);
    return text;
  }

  /** Each running local container load-balances the VIPs of the services on its networks. */
  private async programVips(endpoints: readonly ViewEndpoint[]): Promise<void> {
    const live = new Set<string>();
    const clients: { id: string; pid: number; nets: Set<string>; attachment: boolean }[] = [];
    for (const t of this.tasks) {
      const pid = t.Status.ContainerStatus?.PID ?? 0;
      if (t.Status.State !== 'running' || pid <= 0) continue;
      clients.push({ id: t.ID, pid, nets: new Set((t.Networks ?? []).map((a) => a.NetworkID)), attachment: false });
    }
    // An attachable container with several attachments shares one namespace: one table for all.
    const byPid = new Map<number, { ids: string[]; nets: Set<string> }>();
    for (const e of this.view.endpoints) {
      const pid = e.attachment && e.nodeId === this.o.nodeId ? this.attachedPids.get(e.ip) : undefined;
      if (!pid) continue;
      const c = byPid.get(pid) ?? { ids: [], nets: new Set<string>() };
      c.ids.push(e.ip);
      c.nets.add(e.networkId);
      byPid.set(pid, c);
    }
    for (const [pid, c] of byPid) clients.push({ id: c.ids.join(','), pid, nets: c.nets, attachment: true });
    for (const { id, pid, nets, attachment } of clients) {
      const ready = (): void => {
        if (attachment) for (const a of id.split(',')) this.attachedReady.add(a);
      };
      const vips: VipBackends[] = this.view.services
        .filter((s) => nets.has(s.networkId) && s.mode === 'vip' && s.vip)
        .map((s) => ({
          vip: s.vip!,
          backends: endpoints
            .filter((e) => e.networkId === s.networkId && e.serviceName === s.name && e.serving)
            .map((e) => e.ip),
        }));
      if (vips.length === 0) {
        ready();
        continue;
      }
      live.add(id);
      const rs = vipRuleset(vips);
      const key = `${pid}\n${replaceScript(rs)}`;
      if (this.vipApplied.get(id) === key) {
        ready();
        continue;
      }
      try {
        await this.o.inContainer(pid).applyRuleset(rs);
        this.vipApplied.set(id, key);
      } catch (e) {
        // The container may just have exited; the next assignment says so.
        this.warn('VIP table', id, e);
      }
      ready();
    }
    for (const id of [...this.vipApplied.keys()]) if (!live.has(id)) this.vipApplied.delete(id);
  }

  private async programEgress(): Promise<void> {
    const nets = [...this.active.values()].map((a) => ({
      link: hostLinkName(a.net.id),
      subnet: a.net.subnet,
      internal: a.net.internal,
      gateway: a.net.gateway,
    }));
    this.egressApplied = await this.putTable(
      EGRESS_TABLE_SUFFIX,
      nets.length ? egressRuleset(nets) : undefined,
      this.egressApplied,
    );
  }

  /** After a crash or restart: what shoal made here that the first assignment set does not need. */
  private async removeLeftovers(): Promise<void> {
    const keep = new Set([...this.active.keys()].map((id) => hostLinkName(id)));
    for (const name of await this.o.docker.listOwned()) {
      if (!keep.has(name))
        await this.o.docker.remove(name).catch((e: unknown) => this.warn('removing leftover docker network', name, e));
    }
    if (this.active.size === 0) await this.o.plumbing.cleanup();
    else {
      const owned = await this.o.plumbing.listOwned();
      // A link's name ends in the first characters of its network id, which name both its links.
      const idPart = (link: string): string => link.slice(HOST_LINK_PREFIX.length);
      const kept = new Set([...this.active.keys()].map((id) => idPart(hostLinkName(id))));
      for (const l of owned.links)
        if (!kept.has(idPart(l)))
          await this.o.plumbing
            .removeOverlay(idPart(l))
            .catch((e: unknown) => this.warn('removing leftover link', l, e));
      for (const l of owned.forwardAccepts) if (!keep.has(l)) await this.o.plumbing.setForwardAccept(l, false);
      if (!this.meshApplied && owned.tables.includes(ruleset(MESH_TABLE_SUFFIX, '').table))
        await this.o.plumbing.removeRuleset(ruleset(MESH_TABLE_SUFFIX, '').table);
      const hostPorts = ruleset(HOST_PORTS_TABLE_SUFFIX, '').table;
      if (!this.hostPortsApplied && owned.tables.includes(hostPorts)) await this.o.plumbing.removeRuleset(hostPorts);
      const gone = ruleset(GONE_TABLE_SUFFIX, '').table;
      if (!this.goneApplied && owned.netdevTables.includes(gone)) await this.o.plumbing.removeRuleset(gone, 'netdev');
    }
  }

  private warn(what: string, subject: string, e: unknown): void {
    this.o.logger.warn(`${what} failed`, { subject, error: errorMessage(e) });
  }
}
