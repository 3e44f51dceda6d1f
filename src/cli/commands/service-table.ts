/** The table of `service ls` and `stack services`, with docker's columns. */
import { renderTable } from '../format/table.js';
import { formatList } from '../format/template.js';
import { modeColumn, replicasColumn } from './service-mode.js';
import { portText, type WService } from './wire-types.js';

export function serviceList(services: WService[], o: { quiet?: boolean; format?: string }): string {
  const sorted = [...services].sort((a, b) => (a.Spec.Name < b.Spec.Name ? -1 : 1));
  if (o.quiet) return sorted.map((s) => `${s.ID}\n`).join('');
  const rows = sorted.map((s) => {
    const st = s.ServiceStatus ?? { RunningTasks: 0, DesiredTasks: 0 };
    return {
      ID: s.ID.slice(0, 12),
      Name: s.Spec.Name,
      Mode: modeColumn(s.Spec.Mode),
      Replicas: replicasColumn(s.Spec.Mode, st, s.Spec.TaskTemplate.Placement?.MaxReplicas),
      Image: (s.Spec.TaskTemplate.ContainerSpec?.Image ?? '').replace(/@sha256:[0-9a-f]+$/, ''),
      Ports: (s.Endpoint?.Ports ?? [])
        .filter((p) => p.PublishMode !== 'host')
        .map(portText)
        .join(', '),
    };
  });
  if (o.format)
    return formatList(o.format, rows, {
      ID: 'ID',
      Name: 'NAME',
      Mode: 'MODE',
      Replicas: 'REPLICAS',
      Image: 'IMAGE',
      Ports: 'PORTS',
    });
  return renderTable([
    ['ID', 'NAME', 'MODE', 'REPLICAS', 'IMAGE', 'PORTS'],
    ...rows.map((r) => [r.ID, r.Name, r.Mode, r.Replicas, r.Image, r.Ports]),
  ]);
}
