/** The task table of `service ps` and `node ps`, with docker's ordering and `\_` history rows. */
import type { ApiClient } from '../client.js';
import { formatList } from '../format/template.js';
import { capitalize, humanDuration } from '../format/humanize.js';
import { renderTable } from '../format/table.js';
import { portText, type WNode, type WService, type WTask } from './wire-types.js';

const MAX_ERR = 30;

export interface TaskRow {
  ID: string;
  Name: string;
  Image: string;
  Node: string;
  DesiredState: string;
  CurrentState: string;
  Error: string;
  Ports: string;
}

export interface TaskTableOptions {
  noTrunc: boolean;
  quiet: boolean;
  format?: string;
  now: number;
}

export async function renderTasks(api: ApiClient, tasks: WTask[], o: TaskTableOptions): Promise<string> {
  const services = new Map<string, WService | undefined>();
  const nodes = new Map<string, WNode | undefined>();
  for (const t of tasks) {
    if (!services.has(t.ServiceID))
      services.set(
        t.ServiceID,
        await api.get<WService>(`/services/${t.ServiceID}?insertDefaults=false`).catch(() => undefined),
      );
    if (t.NodeID && !nodes.has(t.NodeID))
      nodes.set(t.NodeID, await api.get<WNode>(`/nodes/${t.NodeID}`).catch(() => undefined));
  }
  const nameOf = (t: WTask): string => {
    const s = services.get(t.ServiceID)?.Spec.Name ?? t.ServiceID;
    return t.Slot ? `${s}.${t.Slot}` : `${s}.${t.NodeID ?? ''}`;
  };
  const sorted = [...tasks].sort((a, b) => {
    const na = nameOf(a);
    const nb = nameOf(b);
    if (na !== nb) {
      const [sa, xa] = [na.slice(0, na.lastIndexOf('.')), na.slice(na.lastIndexOf('.') + 1)];
      const [sb, xb] = [nb.slice(0, nb.lastIndexOf('.')), nb.slice(nb.lastIndexOf('.') + 1)];
      if (sa !== sb) return sa < sb ? -1 : 1;
      const ia = Number(xa);
      const ib = Number(xb);
      if (!Number.isNaN(ia) && !Number.isNaN(ib)) return ia - ib;
      return xa < xb ? -1 : 1;
    }
    return Date.parse(b.CreatedAt) - Date.parse(a.CreatedAt);
  });
  if (o.quiet) return sorted.map((t) => (o.noTrunc ? t.ID : t.ID.slice(0, 12)) + '\n').join('');
  let prev = '';
  const rows: TaskRow[] = sorted.map((t) => {
    const name = nameOf(t);
    const child = name === prev;
    prev = name;
    let err = t.Status.Err ?? '';
    if (!o.noTrunc && err.length > MAX_ERR) err = `${err.slice(0, MAX_ERR - 1)}…`;
    const node = t.NodeID ? nodes.get(t.NodeID) : undefined;
    const since = o.now - Date.parse(t.Status.Timestamp);
    return {
      ID: o.noTrunc ? t.ID : t.ID.slice(0, 12),
      // docker indents history rows only in its default table.
      Name: `${child && !o.format ? ' \\_ ' : ''}${name}`,
      Image: (t.Spec.ContainerSpec?.Image ?? '').replace(/@sha256:[0-9a-f]+$/, o.noTrunc ? '$&' : ''),
      Node: node ? node.Spec.Name || node.Description.Hostname : '',
      DesiredState: capitalize(t.DesiredState),
      CurrentState: `${capitalize(t.Status.State)} ${humanDuration(since).toLowerCase()} ago`,
      Error: err ? `"${err}"` : '',
      Ports: (t.Status.PortStatus?.Ports ?? []).map(portText).join(', '),
    };
  });
  if (o.format) {
    return formatList(o.format, rows, {
      ID: 'ID',
      Name: 'NAME',
      Image: 'IMAGE',
      Node: 'NODE',
      DesiredState: 'DESIRED STATE',
      CurrentState: 'CURRENT STATE',
      Error: 'ERROR',
      Ports: 'PORTS',
    });
  }
  return renderTable([
    ['ID', 'NAME', 'IMAGE', 'NODE', 'DESIRED STATE', 'CURRENT STATE', 'ERROR', 'PORTS'],
    ...rows.map((r) => [r.ID, r.Name, r.Image, r.Node, r.DesiredState, r.CurrentState, r.Error, r.Ports]),
  ]);
}
