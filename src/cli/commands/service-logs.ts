/** `service logs`: decode the daemon's log frames and print `name.slot.task@node    | line` like docker. */
import type { ApiClient } from '../client.js';
import { LogFrameDecoder } from '../../agent/executor/log-frames.js';
import type { WNode, WService, WTask } from './wire-types.js';

export interface LogFlags {
  follow?: boolean;
  tail: string;
  timestamps?: boolean;
  since?: string;
  raw?: boolean;
  taskIds: boolean;
  trunc: boolean;
  details?: boolean;
}

function sinceParam(s: string): string {
  const rel = /^(\d+)([smh])$/.exec(s);
  if (rel)
    return String(Math.floor(Date.now() / 1000) - Number(rel[1]) * { s: 1, m: 60, h: 3600 }[rel[2] as 's' | 'm' | 'h']);
  const t = Date.parse(s);
  return Number.isNaN(t) ? s : String(Math.floor(t / 1000));
}

export async function streamServiceLogs(api: ApiClient, ref: string, o: LogFlags): Promise<void> {
  const service = await api.get<WService>(`/services/${encodeURIComponent(ref)}?insertDefaults=false`);
  const q = new URLSearchParams({ details: '1', stderr: '1', stdout: '1' });
  if (o.follow) q.set('follow', '1');
  if (o.tail && o.tail !== 'all') q.set('tail', o.tail);
  if (o.timestamps) q.set('timestamps', '1');
  if (o.since) q.set('since', sinceParam(o.since));
  const res = await api.stream(`/services/${service.ID}/logs?${q.toString()}`);
  const nodes = new Map<string, string>();
  const tasks = new Map<string, WTask>();
  const name = async (nodeId: string, taskId: string): Promise<string> => {
    if (!nodes.has(nodeId)) {
      const n = await api.get<WNode>(`/nodes/${nodeId}`).catch(() => undefined);
      nodes.set(nodeId, n ? n.Spec.Name || n.Description.Hostname : nodeId);
    }
    if (!tasks.has(taskId)) {
      const t = await api.get<WTask>(`/tasks/${taskId}`).catch(() => undefined);
      if (t) tasks.set(taskId, t);
    }
    const t = tasks.get(taskId);
    const slot = t?.Slot ? String(t.Slot) : nodeId;
    const id = o.trunc ? taskId.slice(0, 12) : taskId;
    return `${service.Spec.Name}.${slot}${o.taskIds ? `.${id}` : ''}@${nodes.get(nodeId)}`;
  };
  let width = 0;
  const decoder = new LogFrameDecoder(Boolean(service.Spec.TaskTemplate.ContainerSpec?.TTY));
  const emit = async (l: { stream: 1 | 2; timestamp: string; line: string }): Promise<void> => {
    // With details the line is `<k=v,...> <msg>`; timestamps (if asked) were split off by the decoder.
    const m = /^(\S*com\.docker\.swarm\.node\.id=[^ ]*) (.*)$/s.exec(l.line);
    const details = new Map<string, string>();
    let msg = l.line;
    if (m) {
      for (const kv of m[1]!.split(',')) {
        const i = kv.indexOf('=');
        details.set(kv.slice(0, i), kv.slice(i + 1));
      }
      msg = m[2]!;
    }
    const target = l.stream === 2 ? process.stderr : process.stdout;
    if (o.raw) {
      target.write(`${o.timestamps && l.timestamp ? `${l.timestamp} ` : ''}${msg}\n`);
      return;
    }
    const ctx = await name(
      details.get('com.docker.swarm.node.id') ?? '',
      details.get('com.docker.swarm.task.id') ?? '',
    );
    width = Math.max(width, ctx.length);
    target.write(`${o.timestamps && l.timestamp ? `${l.timestamp} ` : ''}${ctx.padEnd(width + 4)}| ${msg}\n`);
  };
  for await (const chunk of res) for (const l of decoder.push(chunk as Buffer)) await emit(l);
  for (const l of decoder.end()) await emit(l);
}
