/** `shoal network ...`: create, ls, inspect, rm — docker's output (`docker network` against the same API). */
import { Command } from 'commander';
import { CliError, filtersParam, parseFilterFlags, removeEach, type ApiClient } from '../client.js';
import { renderTable } from '../format/table.js';
import { formatList, renderTemplate } from '../format/template.js';
import { collect, parseKeyValues } from '../opts.js';

type Api = () => ApiClient;
const out = (s: string): void => void process.stdout.write(s);

interface WNetwork {
  Id: string;
  Name: string;
  Driver: string;
  Scope: string;
  Internal?: boolean;
  EnableIPv6?: boolean;
  Created?: string;
  Labels?: Record<string, string> | null;
}

interface CreateFlags {
  driver: string;
  attachable?: boolean;
  internal?: boolean;
  ingress?: boolean;
  subnet: string[];
  gateway: string[];
  ipRange: string[];
  label: string[];
  opt: string[];
  ipamDriver?: string;
}

/** Pairs each --gateway/--ip-range with its --subnet, as docker's CLI does (one of each per subnet). */
function ipamConfigs(f: CreateFlags): { Subnet: string; Gateway?: string; IPRange?: string }[] {
  if (f.subnet.length === 0 && (f.gateway.length > 0 || f.ipRange.length > 0))
    throw new CliError('every ip-range or gateway must have a corresponding subnet');
  if (f.gateway.length > f.subnet.length || f.ipRange.length > f.subnet.length)
    throw new CliError('every ip-range or gateway must have a corresponding subnet');
  return f.subnet.map((Subnet, i) => ({
    Subnet,
    ...(f.gateway[i] ? { Gateway: f.gateway[i] } : {}),
    ...(f.ipRange[i] ? { IPRange: f.ipRange[i] } : {}),
  }));
}

export function networkCommand(api: Api): Command {
  const cmd = new Command('network').description('Manage networks');

  cmd
    .command('create')
    .description('Create a network')
    .argument('<name>')
    .option('-d, --driver <driver>', 'driver to manage the Network', 'bridge')
    .option('--attachable', 'enable manual container attachment')
    .option('--internal', 'restrict external access to the network')
    .option('--ingress', 'create swarm routing-mesh network')
    .option('--subnet <cidr>', 'subnet in CIDR format that represents a network segment', collect, [])
    .option('--gateway <ip>', 'IPv4 or IPv6 Gateway for the master subnet', collect, [])
    .option('--ip-range <cidr>', 'allocate container ip from a sub-range', collect, [])
    .option('--ipam-driver <driver>', 'IP Address Management Driver')
    .option('--label <k=v>', 'set metadata on a network', collect, [])
    .option('-o, --opt <k=v>', 'set driver specific options', collect, [])
    .action(async (name: string, f: CreateFlags) => {
      const body = {
        Name: name,
        CheckDuplicate: true,
        Driver: f.driver,
        Attachable: Boolean(f.attachable),
        Internal: Boolean(f.internal),
        Ingress: Boolean(f.ingress),
        Labels: parseKeyValues(f.label),
        Options: parseKeyValues(f.opt),
        IPAM: { Driver: f.ipamDriver ?? 'default', Config: ipamConfigs(f) },
      };
      const r = await api().post<{ Id: string }>('/networks/create', body);
      out(`${r.Id}\n`);
    });

  cmd
    .command('ls')
    .alias('list')
    .description('List networks')
    .option('-q, --quiet', 'only display network IDs')
    .option('--no-trunc', 'do not truncate the output')
    .option('-f, --filter <filter>', 'provide filter values (e.g. "driver=bridge")', collect, [])
    .option('--format <format>', 'pretty-print networks using a Go template')
    .action(async (o: { quiet?: boolean; trunc: boolean; filter: string[]; format?: string }) => {
      const q = filtersParam(parseFilterFlags(o.filter));
      const list = await api().get<WNetwork[]>(`/networks${q ? `?${q}` : ''}`);
      list.sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
      const id = (n: WNetwork): string => (o.trunc ? n.Id.slice(0, 12) : n.Id);
      if (o.quiet) return out(list.map((n) => `${id(n)}\n`).join(''));
      const rows = list.map((n) => ({
        ID: id(n),
        Name: n.Name,
        Driver: n.Driver,
        Scope: n.Scope,
        IPv6: String(Boolean(n.EnableIPv6)),
        Internal: String(Boolean(n.Internal)),
      }));
      if (o.format)
        return out(
          formatList(o.format, rows, {
            ID: 'NETWORK ID',
            Name: 'NAME',
            Driver: 'DRIVER',
            Scope: 'SCOPE',
            IPv6: 'IPV6',
            Internal: 'INTERNAL',
          }),
        );
      out(
        renderTable([['NETWORK ID', 'NAME', 'DRIVER', 'SCOPE'], ...rows.map((r) => [r.ID, r.Name, r.Driver, r.Scope])]),
      );
    });

  cmd
    .command('inspect')
    .description('Display detailed information on one or more networks')
    .argument('<network...>')
    .option('-f, --format <format>', 'format the output using the given Go template')
    .action(async (refs: string[], o: { format?: string }) => {
      const list: unknown[] = [];
      for (const ref of refs) list.push(await api().get<unknown>(`/networks/${encodeURIComponent(ref)}`));
      if (o.format) return out(list.map((n) => renderTemplate(o.format!, n) + '\n').join(''));
      out(JSON.stringify(list, null, 4) + '\n');
    });

  cmd
    .command('rm')
    .alias('remove')
    .description('Remove one or more networks')
    .argument('<network...>')
    .action((refs: string[]) => removeEach(api(), 'networks', refs));

  return cmd;
}
