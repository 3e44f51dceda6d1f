/**
 * NetworkPlumbing on Linux with iproute2 and nftables. Every command is an argument vector run
 * through a CommandRunner (execFile, optionally inside a namespace); every input is validated
 * before it reaches a command line. Operations are idempotent: the current state is read
 * (`ip -d -j link show`) and only what differs is changed, so the agent can simply re-apply.
 */
import { invalidArgument, notFound } from '../common/errors.js';
import { parseCidr, parseIpv4 } from './cidr.js';
import { CommandError, mustRun, type CommandRunner } from './command-runner.js';
import { hostLinkName, OWNED_LINK, OWNED_TABLE, vxlanName } from './device-names.js';
import { listForwardAccepts, setForwardAccept } from './forward-accept.js';
import { hostLinkMacFor, isMac, macForIp } from './mac.js';
import { removeScript, replaceScript, type NftFamily, type NftRuleset } from './nft-ruleset.js';
import {
  DEFAULT_OVERLAY_MTU,
  DEFAULT_VXLAN_PORT,
  type NetworkPlumbing,
  type OverlayDevices,
  type OverlaySpec,
  type OwnedObjects,
  type RemoteEndpoint,
} from './plumbing.js';
import { VNI_LAST } from './vni.js';

interface LinkInfo {
  ifname: string;
  master?: string;
  address?: string;
  mtu?: number;
  linkinfo?: {
    info_kind?: string;
    info_data?: { id?: number; local?: string; port?: number; learning?: boolean; proxy?: boolean; mode?: string };
  };
  /** A macvlan link's parent. */
  link?: string;
}

const LINK_NAME = /^[A-Za-z0-9_.-]{1,15}$/;

function ipv4(text: string, what: string): string {
  if (parseIpv4(text) === undefined) throw invalidArgument(`${what} ${text} is not a valid IP address`);
  return text;
}

/** An address with its prefix length (`10.0.1.1/24`), checked before it reaches a command line. */
function cidrArg(text: string, what: string): string {
  if (!parseCidr(text) || !text.includes('/')) throw invalidArgument(`invalid ${what} ${text}`);
  return text;
}

function parseJson<T>(text: string, what: string): T {
  try {
    return JSON.parse(text || '[]') as T;
  } catch {
    throw new Error(`cannot parse ${what} output`);
  }
}

export class LinuxPlumbing implements NetworkPlumbing {
  constructor(private readonly runner: CommandRunner) {}

  private async links(): Promise<Map<string, LinkInfo>> {
    const out = await mustRun(this.runner, 'ip', ['-d', '-j', 'link', 'show']);
    const list = parseJson<LinkInfo[]>(out, 'ip link');
    return new Map(list.map((l) => [l.ifname, l]));
  }

  private ip(args: string[]): Promise<string> {
    return mustRun(this.runner, 'ip', args);
  }

  /** Runs a removal and ignores "does not exist" (idempotent deletes). */
  private async tolerate(cmd: string, args: string[]): Promise<void> {
    const res = await this.runner.run(cmd, args);
    if (res.code === 0) return;
    if (/No such|Cannot find|does not exist|not found|ENOENT/i.test(res.stderr)) return;
    throw new CommandError(cmd, args, res);
  }

  async ensureOverlay(spec: OverlaySpec): Promise<OverlayDevices> {
    const host = hostLinkName(spec.networkId);
    const vxlan = vxlanName(spec.networkId);
    if (!Number.isInteger(spec.vni) || spec.vni < 1 || spec.vni > VNI_LAST)
      throw invalidArgument(`invalid vxlan id value ${spec.vni}`);
    const local = ipv4(spec.localUnderlayIp, 'underlay address');
    const port = spec.dstPort ?? DEFAULT_VXLAN_PORT;
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalidArgument(`invalid data path port ${port}`);
    const mtu = spec.mtu ?? DEFAULT_OVERLAY_MTU;
    if (!Number.isInteger(mtu) || mtu < 576 || mtu > 9000) throw invalidArgument(`invalid mtu ${mtu}`);
    if (spec.underlayDevice !== undefined && !LINK_NAME.test(spec.underlayDevice))
      throw invalidArgument(`invalid device ${spec.underlayDevice}`);
    const gateway = cidrArg(spec.gateway, 'gateway');
    const hostCidr = spec.hostAddress === undefined ? undefined : cidrArg(spec.hostAddress, 'host address');

    let links = await this.links();
    const vx = links.get(vxlan);
    const d = vx?.linkinfo?.info_data;
    const right =
      vx?.linkinfo?.info_kind === 'vxlan' &&
      d?.id === spec.vni &&
      d.local === local &&
      d.port === port &&
      d.learning === false &&
      d.proxy === true;
    // Deleting the VXLAN device takes its macvlan links with it (the host's and any container's).
    if (vx && !right) await this.ip(['link', 'del', vxlan]);
    if (!right) {
      // nolearning + proxy: remote MACs and ARP answers come only from the entries shoal programs;
      // no all-zeros FDB entry is ever added, so nothing is flooded to other hosts.
      const dev = spec.underlayDevice ? ['dev', spec.underlayDevice] : [];
      await this.ip([
        'link',
        'add',
        vxlan,
        'type',
        'vxlan',
        'id',
        String(spec.vni),
        'dstport',
        String(port),
        'local',
        local,
        ...dev,
        'nolearning',
        'proxy',
      ]);
    }
    links = await this.links();
    if (links.get(vxlan)?.mtu !== mtu) await this.ip(['link', 'set', vxlan, 'mtu', String(mtu)]);
    await this.ip(['link', 'set', vxlan, 'up']);

    // A fixed MAC (mac.ts): with a host address, the one remote hosts program for it.
    const mac =
      hostCidr !== undefined ? macForIp(hostCidr.slice(0, hostCidr.indexOf('/'))) : hostLinkMacFor(spec.networkId);
    const hl = links.get(host);
    const hostRight =
      hl?.linkinfo?.info_kind === 'macvlan' && hl.link === vxlan && hl.linkinfo.info_data?.mode === 'bridge';
    // A bridge of an older shoal, or a link on a replaced VXLAN device: made anew.
    if (hl && !hostRight) await this.ip(['link', 'del', host]);
    if (!hostRight)
      await this.ip(['link', 'add', host, 'link', vxlan, 'address', mac, 'type', 'macvlan', 'mode', 'bridge']);
    else if (hl.address !== mac) await this.ip(['link', 'set', host, 'address', mac]);
    await this.ip(['addr', 'replace', gateway, 'dev', host]);
    if (hostCidr !== undefined) await this.ip(['addr', 'replace', hostCidr, 'dev', host]);
    if (spec.routeLocalnet)
      await mustRun(this.runner, 'sysctl', ['-q', '-w', `net.ipv4.conf.${host}.route_localnet=1`]);
    await this.ip(['link', 'set', host, 'up']);
    return { hostLink: host, vxlan };
  }

  async removeOverlay(networkId: string): Promise<void> {
    await this.tolerate('ip', ['link', 'del', vxlanName(networkId)]);
    await this.tolerate('ip', ['link', 'del', hostLinkName(networkId)]);
  }

  private endpointArgs(
    networkId: string,
    ep: RemoteEndpoint,
  ): { vxlan: string; ip: string; host: string; mac: string } {
    const ip = ipv4(ep.ip, 'endpoint address');
    const host = ipv4(ep.hostIp, 'host address');
    const mac = ep.mac ?? macForIp(ip);
    if (!isMac(mac)) throw invalidArgument(`invalid MAC address ${mac}`);
    return { vxlan: vxlanName(networkId), ip, host, mac };
  }

  async addRemoteEndpoint(networkId: string, ep: RemoteEndpoint): Promise<void> {
    const { vxlan, ip, host, mac } = this.endpointArgs(networkId, ep);
    if (!(await this.links()).has(vxlan)) throw notFound(`overlay ${networkId} has no VXLAN device on this host`);
    // The neighbour entry lets the VXLAN device answer ARP for the remote address (proxy); the FDB
    // entry says which host the MAC is behind.
    await this.ip(['neigh', 'replace', ip, 'lladdr', mac, 'dev', vxlan, 'nud', 'permanent']);
    await mustRun(this.runner, 'bridge', ['fdb', 'replace', mac, 'dev', vxlan, 'dst', host, 'self', 'permanent']);
  }

  async removeRemoteEndpoint(networkId: string, ep: RemoteEndpoint): Promise<void> {
    const { vxlan, ip, host, mac } = this.endpointArgs(networkId, ep);
    await this.tolerate('ip', ['neigh', 'del', ip, 'dev', vxlan]);
    await this.tolerate('bridge', ['fdb', 'del', mac, 'dev', vxlan, 'dst', host, 'self']);
  }

  async listRemoteEndpoints(networkId: string): Promise<RemoteEndpoint[]> {
    const vxlan = vxlanName(networkId);
    if (!(await this.links()).has(vxlan)) return [];
    const fdb = parseJson<{ mac: string; dst?: string }[]>(
      await mustRun(this.runner, 'bridge', ['-j', 'fdb', 'show', 'dev', vxlan]),
      'bridge fdb',
    );
    const neigh = parseJson<{ dst: string; lladdr?: string }[]>(
      await this.ip(['-j', 'neigh', 'show', 'dev', vxlan]),
      'ip neigh',
    );
    const hostOf = new Map(fdb.filter((f) => f.dst && f.mac !== '00:00:00:00:00:00').map((f) => [f.mac, f.dst!]));
    const out: RemoteEndpoint[] = [];
    for (const n of neigh) {
      const host = n.lladdr ? hostOf.get(n.lladdr) : undefined;
      if (n.lladdr && host) out.push({ ip: n.dst, hostIp: host, mac: n.lladdr });
    }
    return out.sort((a, b) => (parseIpv4(a.ip) ?? 0) - (parseIpv4(b.ip) ?? 0));
  }

  async applyRuleset(rs: NftRuleset): Promise<void> {
    await mustRun(this.runner, 'nft', ['-f', '-'], replaceScript(rs));
  }

  async removeRuleset(table: string, family: NftFamily = 'ip'): Promise<void> {
    if (!OWNED_TABLE.test(table)) throw invalidArgument(`not a shoal table: ${table}`);
    await mustRun(this.runner, 'nft', ['-f', '-'], removeScript(family, table));
  }

  setForwardAccept(link: string, on: boolean): Promise<void> {
    return setForwardAccept(this.runner, link, on);
  }

  async listOwned(): Promise<OwnedObjects> {
    const links = [...(await this.links()).keys()].filter((n) => OWNED_LINK.test(n)).sort();
    const out = parseJson<{ nftables?: { table?: { family: string; name: string } }[] }>(
      await mustRun(this.runner, 'nft', ['-j', 'list', 'tables']),
      'nft list tables',
    );
    const owned = (family: NftFamily): string[] =>
      (out.nftables ?? [])
        .map((e) => e.table)
        .filter(
          (t): t is { family: string; name: string } =>
            t !== undefined && t.family === family && OWNED_TABLE.test(t.name),
        )
        .map((t) => t.name)
        .sort();
    const tables = owned('ip');
    const netdevTables = owned('netdev');
    return { links, tables, netdevTables, forwardAccepts: await listForwardAccepts(this.runner) };
  }

  async cleanup(): Promise<void> {
    const { links, tables, netdevTables, forwardAccepts } = await this.listOwned();
    for (const b of forwardAccepts) await setForwardAccept(this.runner, b, false);
    // VXLAN devices first: their macvlan links go with them.
    for (const l of links.filter((n) => n.startsWith('shv-'))) await this.tolerate('ip', ['link', 'del', l]);
    for (const l of links.filter((n) => n.startsWith('shl-'))) await this.tolerate('ip', ['link', 'del', l]);
    for (const t of tables) await this.removeRuleset(t);
    for (const t of netdevTables) await this.removeRuleset(t, 'netdev');
  }
}
