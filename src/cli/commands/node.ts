/** `shoal node ...`: ls, inspect, ps, update, promote, demote, rm. */
import { Command } from 'commander';
import type { NodeSpec } from '../../store/types.js';
import { CliError, filtersParam, parseFilterFlags, type ApiClient } from '../client.js';
import { capitalize } from '../format/humanize.js';
import { renderTable } from '../format/table.js';
import { formatList, renderTemplate } from '../format/template.js';
import { collect, parseKeyValues } from '../opts.js';
import { renderTasks } from './task-table.js';
import type { WNode, WTask, WTlsInfo } from './wire-types.js';

type Api = () => ApiClient;
const out = (s: string): void => void process.stdout.write(s);

async function selfId(api: ApiClient): Promise<string> {
  const info = await api.get<{ Swarm: { NodeID: string } }>('/info');
  return info.Swarm.NodeID;
}

const TLS_FIELDS = ['TrustRoot', 'CertIssuerSubject', 'CertIssuerPublicKey'] as const;

/** As docker shows it: a node whose TLSInfo is the cluster's is Ready, another Needs Rotation. */
function tlsStatus(node: WTlsInfo | undefined, cluster: WTlsInfo | undefined): string {
  const empty = (t: WTlsInfo | undefined): boolean => !t || TLS_FIELDS.every((f) => !t[f]);
  if (empty(node) || empty(cluster)) return 'Unknown';
  return TLS_FIELDS.every((f) => (node![f] ?? '') === (cluster![f] ?? '')) ? 'Ready' : 'Needs Rotation';
}

async function resolve(api: ApiClient, ref: string): Promise<string> {
  return ref === 'self' ? selfId(api) : ref;
}

function managerStatus(n: WNode): string {
  if (!n.ManagerStatus) return '';
  if (n.ManagerStatus.Leader) return 'Leader';
  return capitalize(n.ManagerStatus.Reachability);
}

export function nodeCommand(api: Api): Command {
  const cmd = new Command('node').description('Manage Swarm nodes');

  cmd
    .command('ls')
    .alias('list')
    .description('List nodes in the swarm')
    .option('-q, --quiet', 'only display IDs')
    .option('-f, --filter <filter>', 'filter output based on conditions provided', collect, [])
    .option('--format <format>', 'format output using a custom template')
    .action(async (o: { quiet?: boolean; filter: string[]; format?: string }) => {
      const a = api();
      const q = filtersParam(parseFilterFlags(o.filter));
      const nodes = await a.get<WNode[]>(`/nodes${q ? `?${q}` : ''}`);
      const info = await a.get<{ Swarm: { NodeID: string; Cluster?: { TLSInfo?: WTlsInfo } } }>('/info');
      const self = info.Swarm.NodeID;
      nodes.sort((x, y) =>
        (x.Spec.Name || x.Description.Hostname) < (y.Spec.Name || y.Description.Hostname) ? -1 : 1,
      );
      if (o.quiet) return out(nodes.map((n) => `${n.ID}\n`).join(''));
      const rows = nodes.map((n) => ({
        ID: n.ID + (n.ID === self ? ' *' : ''),
        Self: n.ID === self,
        Hostname: n.Spec.Name || n.Description.Hostname,
        Status: capitalize(n.Status.State),
        Availability: capitalize(n.Spec.Availability),
        ManagerStatus: managerStatus(n),
        EngineVersion: n.Description.Engine.EngineVersion,
        TLSStatus: tlsStatus(n.Description.TLSInfo, info.Swarm.Cluster?.TLSInfo),
      }));
      if (o.format)
        return out(
          formatList(o.format, rows, {
            ID: 'ID',
            Hostname: 'HOSTNAME',
            Status: 'STATUS',
            Availability: 'AVAILABILITY',
            ManagerStatus: 'MANAGER STATUS',
            EngineVersion: 'ENGINE VERSION',
            TLSStatus: 'TLS STATUS',
          }),
        );
      out(
        renderTable([
          ['ID', 'HOSTNAME', 'STATUS', 'AVAILABILITY', 'MANAGER STATUS', 'ENGINE VERSION'],
          ...rows.map((r) => [r.ID, r.Hostname, r.Status, r.Availability, r.ManagerStatus, r.EngineVersion]),
        ]),
      );
    });

  cmd
    .command('inspect')
    .description('Display detailed information on one or more nodes')
    .argument('[node...]')
    .option('--pretty', 'print the information in a human friendly format')
    .option('-f, --format <format>', 'format output using a custom template')
    .action(async (refs: string[], o: { pretty?: boolean; format?: string }) => {
      const a = api();
      const list: WNode[] = [];
      for (const ref of refs.length ? refs : ['self'])
        list.push(await a.get<WNode>(`/nodes/${encodeURIComponent(await resolve(a, ref))}`));
      if (o.format) return out(list.map((n) => renderTemplate(o.format!, n) + '\n').join(''));
      if (o.pretty) return out(list.map(prettyNode).join('\n\n') + '\n');
      out(JSON.stringify(list, null, 4) + '\n');
    });

  cmd
    .command('ps')
    .description('List tasks running on one or more nodes, defaults to current node')
    .argument('[node...]')
    .option('--no-trunc', 'do not truncate output')
    .option('-q, --quiet', 'only display task IDs')
    .option('-f, --filter <filter>', 'filter output based on conditions provided', collect, [])
    .option('--format <format>', 'pretty-print tasks using a Go template')
    .action(async (refs: string[], o: { trunc: boolean; quiet?: boolean; filter: string[]; format?: string }) => {
      const a = api();
      const tasks: WTask[] = [];
      for (const ref of refs.length ? refs : ['self']) {
        const n = await a.get<WNode>(`/nodes/${encodeURIComponent(await resolve(a, ref))}`);
        tasks.push(
          ...(await a.get<WTask[]>(`/tasks?${filtersParam({ ...parseFilterFlags(o.filter), node: [n.ID] })}`)),
        );
      }
      out(
        await renderTasks(a, tasks, { noTrunc: !o.trunc, quiet: Boolean(o.quiet), format: o.format, now: Date.now() }),
      );
    });

  const update = async (ref: string, change: (s: NodeSpec) => void): Promise<void> => {
    const a = api();
    const n = await a.get<WNode & { Spec: NodeSpec }>(`/nodes/${encodeURIComponent(ref)}`);
    const spec: NodeSpec = { ...n.Spec, Labels: { ...(n.Spec.Labels ?? {}) } };
    change(spec);
    await a.post(`/nodes/${n.ID}/update?version=${n.Version.Index}`, spec);
  };

  cmd
    .command('update')
    .description('Update a node')
    .argument('<node>')
    .option('--availability <a>', 'availability of the node ("active", "pause", "drain")')
    .option('--role <role>', 'role of the node ("worker", "manager")')
    .option('--label-add <k=v>', 'add or update a node label', collect, [])
    .option('--label-rm <k>', 'remove a node label if exists', collect, [])
    .action(async (ref: string, o: { availability?: string; role?: string; labelAdd: string[]; labelRm: string[] }) => {
      await update(ref, (s) => {
        if (o.availability) s.Availability = o.availability as NodeSpec['Availability'];
        if (o.role) s.Role = o.role as NodeSpec['Role'];
        for (const k of o.labelRm) {
          if (!(k in s.Labels)) throw new CliError(`key ${k} doesn't exist in node's labels`);
          delete s.Labels[k];
        }
        Object.assign(s.Labels, parseKeyValues(o.labelAdd));
      });
      out(`${ref}\n`);
    });

  for (const [name, role, verb] of [
    ['promote', 'manager', 'promoted to a manager in the swarm'],
    ['demote', 'worker', 'demoted in the swarm'],
  ] as const) {
    cmd
      .command(name)
      .description(
        `${name === 'promote' ? 'Promote one or more nodes to manager' : 'Demote one or more nodes from manager'} in the swarm`,
      )
      .argument('<node...>')
      .action(async (refs: string[]) => {
        for (const ref of refs) {
          await update(ref, (s) => (s.Role = role));
          out(`Node ${ref} ${verb}.\n`);
        }
      });
  }

  cmd
    .command('rm')
    .alias('remove')
    .description('Remove one or more nodes from the swarm')
    .argument('<node...>')
    .option('-f, --force', 'force remove a node from the swarm')
    .action(async (refs: string[], o: { force?: boolean }) => {
      for (const ref of refs) {
        await api().del(`/nodes/${encodeURIComponent(ref)}${o.force ? '?force=1' : ''}`);
        out(`${ref}\n`);
      }
    });
  return cmd;
}

function prettyNode(n: WNode): string {
  const lines = [
    `ID:\t\t\t${n.ID}`,
    `Hostname:\t\t${n.Description.Hostname}`,
    `Joined at:\t\t${n.CreatedAt}`,
    'Status:',
    ` State:\t\t\t${capitalize(n.Status.State)}`,
    ` Availability:\t\t${capitalize(n.Spec.Availability)}`,
    ` Address:\t\t${n.Status.Addr}`,
  ];
  if (n.ManagerStatus)
    lines.push(
      'Manager Status:',
      ` Address:\t\t${n.ManagerStatus.Addr}`,
      ` Raft Status:\t\t${capitalize(n.ManagerStatus.Reachability)}`,
      ` Leader:\t\t${n.ManagerStatus.Leader ? 'Yes' : 'No'}`,
    );
  const labels = Object.entries(n.Spec.Labels ?? {});
  if (labels.length) lines.push('Labels:', ...labels.map(([k, v]) => ` - ${k}=${v}`));
  lines.push(
    'Platform:',
    ` Operating System:\t${n.Description.Platform.OS}`,
    ` Architecture:\t\t${n.Description.Platform.Architecture}`,
  );
  lines.push(
    'Resources:',
    ` CPUs:\t\t\t${n.Description.Resources.NanoCPUs / 1e9}`,
    ` Memory:\t\t${(n.Description.Resources.MemoryBytes / 1024 ** 3).toFixed(2)}GiB`,
  );
  lines.push(`Engine Version:\t\t${n.Description.Engine.EngineVersion}`);
  return lines.join('\n');
}
