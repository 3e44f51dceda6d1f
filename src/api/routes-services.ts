/** `/services*` and `/tasks*` routes, including logs. */
import type { LogOptions } from '../manager/controlapi/api.js';
import type { ClusterApi } from '../manager/controlapi/methods.js';
import type { NodeApi } from '../manager/controlapi/node-api.js';
import type { ServiceObject, ServiceSpec, TaskObject } from '../store/types.js';
import { SERVICE_SPEC } from './engine-types.js';
import { badRequest, writeJson } from './errors.js';
import { labelsMatch, matchAny, parseFilters } from './filters.js';
import { streamLogs } from './logs-stream.js';
import { boolParam, parseVersionParam, type Ctx, type Router } from './router.js';
import { serviceWire, taskWire } from './wire.js';

const SERVICE_FILTERS = ['id', 'label', 'mode', 'name', 'runtime'];
const TASK_FILTERS = ['id', 'name', 'label', 'service', 'node', 'desired-state', 'runtime', '_up-to-date'];

function modeOf(s: ServiceObject): string {
  const k = Object.keys(s.Spec.Mode)[0] ?? '';
  return (
    { Replicated: 'replicated', Global: 'global', ReplicatedJob: 'replicated-job', GlobalJob: 'global-job' }[k] ?? k
  );
}

function logOptions(c: Ctx, signal: AbortSignal): LogOptions {
  const tail = c.query.get('tail');
  const since = c.query.get('since');
  const opts: LogOptions = {
    follow: boolParam(c.query, 'follow'),
    stdout: boolParam(c.query, 'stdout'),
    stderr: boolParam(c.query, 'stderr'),
    signal,
  };
  if (!opts.stdout && !opts.stderr) throw badRequest('Bad parameters: you must choose at least one stream');
  if (tail && tail !== 'all') {
    if (!/^\d+$/.test(tail)) throw badRequest(`invalid tail value: ${tail}`);
    opts.tail = Number(tail);
  }
  if (since && since !== '0') opts.since = Number(since);
  return opts;
}

export function serviceRoutes(r: Router, node: NodeApi, control: ClusterApi): void {
  r.on('GET', '/services', async (c) => {
    const f = parseFilters(c.query.get('filters'), SERVICE_FILTERS);
    const list = (await control.listServices()).filter(
      (s) =>
        matchAny(f, 'id', (v) => s.ID.startsWith(v)) &&
        matchAny(f, 'name', (v) => s.Spec.Name.startsWith(v)) &&
        matchAny(f, 'mode', (v) => modeOf(s) === v) &&
        matchAny(f, 'runtime', (v) => v === 'container') &&
        labelsMatch(f, 'label', s.Spec.Labels),
    );
    const withStatus = boolParam(c.query, 'status');
    const out = [];
    for (const s of list) {
      const w = serviceWire(s, false);
      if (withStatus) w.ServiceStatus = await control.serviceStatus(s.ID);
      out.push(w);
    }
    writeJson(c.res, 200, out);
  });
  r.on('POST', '/services/create', async (c) => {
    const { id, warnings } = await control.createService(await c.json<ServiceSpec>(SERVICE_SPEC));
    writeJson(c.res, 201, warnings.length ? { ID: id, Warnings: warnings } : { ID: id });
  });
  r.on('GET', '/services/{id}', async (c) => {
    const insert = boolParam(c.query, 'insertDefaults');
    writeJson(c.res, 200, serviceWire(await control.getService(c.params.id!), insert));
  });
  r.on('POST', '/services/{id}/update', async (c) => {
    const version = parseVersionParam(c.query, 'service');
    const service = await control.getService(c.params.id!);
    const spec = await c.json<ServiceSpec>(SERVICE_SPEC);
    const { warnings } = await control.updateService(service.ID, version, spec, {
      rollback: c.query.get('rollback') === 'previous',
    });
    writeJson(c.res, 200, { Warnings: warnings.length ? warnings : null });
  });
  r.on('DELETE', '/services/{id}', async (c) => {
    await control.removeService(c.params.id!);
    c.res.writeHead(200).end();
  });
  r.on('GET', '/services/{id}/logs', async (c) => {
    const service = await control.getService(c.params.id!);
    const abort = new AbortController();
    const opts = logOptions(c, abort.signal);
    await streamLogs(
      c.res,
      node.logs('service', service.ID, opts),
      {
        timestamps: boolParam(c.query, 'timestamps'),
        details: boolParam(c.query, 'details'),
        raw: Boolean(service.Spec.TaskTemplate.ContainerSpec?.TTY),
      },
      abort,
    );
  });

  r.on('GET', '/tasks', async (c) => {
    const f = parseFilters(c.query.get('filters'), TASK_FILTERS);
    const [tasks, services, nodes] = await Promise.all([
      control.listTasks(),
      control.listServices(),
      control.listNodes(),
    ]);
    const serviceById = new Map(services.map((s) => [s.ID as string, s]));
    const nodeById = new Map(nodes.map((n) => [n.ID as string, n]));
    const name = (t: TaskObject): string => `${t.ServiceAnnotations.Name}.${t.Slot > 0 ? t.Slot : (t.NodeID ?? '')}`;
    const out = tasks.filter((t) => {
      const svc = serviceById.get(t.ServiceID);
      const node = t.NodeID ? nodeById.get(t.NodeID) : undefined;
      return (
        matchAny(f, 'id', (v) => t.ID.startsWith(v)) &&
        matchAny(f, 'name', (v) => name(t).startsWith(v)) &&
        matchAny(
          f,
          'service',
          (v) =>
            t.ServiceID === v ||
            svc?.Spec.Name === v ||
            (v.length >= 1 && t.ServiceID.startsWith(v) && !serviceById.has(v)),
        ) &&
        matchAny(
          f,
          'node',
          (v) => t.NodeID === v || (node !== undefined && (node.Description.Hostname === v || node.Spec.Name === v)),
        ) &&
        matchAny(f, 'desired-state', (v) => t.DesiredState === v) &&
        matchAny(f, 'runtime', (v) => v === 'container') &&
        matchAny(f, '_up-to-date', () => svc !== undefined && t.SpecVersion === svc.SpecVersion) &&
        labelsMatch(f, 'label', t.ServiceAnnotations.Labels)
      );
    });
    writeJson(c.res, 200, out.map(taskWire));
  });
  r.on('GET', '/tasks/{id}', async (c) => {
    writeJson(c.res, 200, taskWire(await control.getTask(c.params.id!)));
  });
  r.on('GET', '/tasks/{id}/logs', async (c) => {
    const task = await control.getTask(c.params.id!);
    const abort = new AbortController();
    const opts = logOptions(c, abort.signal);
    await streamLogs(
      c.res,
      node.logs('task', task.ID, opts),
      {
        timestamps: boolParam(c.query, 'timestamps'),
        details: boolParam(c.query, 'details'),
        raw: Boolean(task.Spec.ContainerSpec?.TTY),
      },
      abort,
    );
  });
}
