/** Services: `service create|ls|inspect|update|rollback|scale|rm` and the status `service ls` shows. */
import { sameValue } from '../../common/canonical.js';
import { ShoalError } from '../../common/errors.js';
import { newId, type ServiceId } from '../../common/ids.js';
import type { Store } from '../../store/store.js';
import type { ServiceObject, ServiceSpec } from '../../store/types.js';
import { isJob, replicatedJobLimits } from '../orchestrator/jobs/job-mode.js';
import { tasksToRebalance } from '../orchestrator/rebalance.js';
import { jobServiceStatus } from './job-status.js';
import type { ServiceStatus, UpdateServiceOptions } from './api.js';
import { storeWrite } from './context.js';
import { checkDependencyCycle } from './dependencies.js';
import { read, write } from './method.js';
import { randomName } from './names.js';
import { resolveServiceNetworks } from './network.js';
import { resolveReferences } from './references.js';
import { resolveRef } from './resolve.js';
import { rpcError } from './rpc-errors.js';
import { modeName, validateServiceSpec } from './service-validation.js';

/** ref = full id, exact name, or unique id prefix. */
export function findService(store: Store, ref: string): ServiceObject {
  return resolveRef(
    store.view((tx) => tx.all('service')),
    ref,
    (s) => s.Spec.Name,
    'service',
  );
}

export const serviceMethods = {
  listServices: read((ctx) => ctx.store.view((tx) => tx.all('service'))),

  getService: read((ctx, ref: string) => findService(ctx.store, ref)),

  serviceStatus: read((ctx, id: string): ServiceStatus =>
    ctx.store.view((tx) => {
      const s = tx.get('service', id);
      if (!s) throw new ShoalError('not_found', `service ${id} not found`);
      const nodes = new Map(tx.all('node').map((n) => [n.ID as string, n]));
      const tasks = tx.find('task', (t) => t.ServiceID === id);
      if (isJob(s.Spec)) return jobServiceStatus(s, tasks);
      const running = tasks.filter(
        (t) =>
          t.Status.State === 'running' &&
          t.DesiredState === 'running' &&
          t.NodeID &&
          nodes.get(t.NodeID)?.Status.State !== 'down',
      ).length;
      const desired =
        'Replicated' in s.Spec.Mode
          ? (s.Spec.Mode.Replicated.Replicas ?? 1)
          : tasks.filter((t) => t.DesiredState === 'running').length;
      const completed = tasks.filter((t) => t.Status.State === 'complete').length;
      return { RunningTasks: running, DesiredTasks: desired, CompletedTasks: completed };
    }),
  ),

  createService: write(async (ctx, spec: ServiceSpec): Promise<{ id: string; warnings: string[] }> => {
    const s = normalizeServiceSpec(spec);
    if (!s.Name) s.Name = randomName(ctx.random);
    validateServiceSpec(s);
    const id = newId<ServiceId>(ctx.random);
    await storeWrite(ctx, (tx) => {
      resolveServiceNetworks(s, tx.all('network'));
      resolveReferences(s, tx.all('secret'), tx.all('config'));
      if (tx.all('service').some((o) => o.Spec.Name === s.Name)) {
        throw rpcError('already_exists', `name conflicts with an existing object: service ${s.Name} already exists`);
      }
      checkDependencyCycle(s, tx.all('service'));
      // Without published ports the allocator has nothing to add: the endpoint is complete now, so
      // the service is not rewritten (and its version does not move) right after it is created.
      const endpoint = s.EndpointSpec?.Ports?.length ? {} : structuredClone(s.EndpointSpec ?? {});
      const service: ServiceObject = {
        ID: id,
        Version: { Index: 0 },
        CreatedAt: tx.now,
        UpdatedAt: tx.now,
        Spec: s,
        SpecVersion: 1,
        Endpoint: { Spec: endpoint },
      };
      if (isJob(s)) service.JobStatus = { JobIteration: { Index: 0 }, LastExecution: tx.now };
      tx.create('service', service);
    });
    return { id, warnings: [] };
  }),

  updateService: write(
    async (
      ctx,
      id: string,
      version: number,
      spec: ServiceSpec,
      opts: UpdateServiceOptions,
    ): Promise<{ warnings: string[] }> => {
      await storeWrite(ctx, (tx) => {
        const cur = tx.get('service', id);
        if (!cur) throw new ShoalError('not_found', `service ${id} not found`);
        if (cur.Version.Index !== version) throw rpcError('unknown', 'update out of sequence');
        let next: ServiceSpec;
        if (opts.rollback) {
          if (!cur.PreviousSpec)
            throw rpcError('failed_precondition', `service ${cur.ID} does not have a previous spec`);
          next = structuredClone(cur.PreviousSpec);
        } else {
          next = normalizeServiceSpec(spec);
          validateServiceSpec(next);
          resolveServiceNetworks(next, tx.all('network'));
        }
        // A rollback's spec is checked too: a secret it names may have been removed since.
        resolveReferences(next, tx.all('secret'), tx.all('config'));
        const previous = structuredClone(cur.Spec);
        if (next.Name !== cur.Spec.Name) throw rpcError('unimplemented', 'renaming services is not supported');
        if (modeName(next) !== modeName(cur.Spec))
          throw rpcError('invalid_argument', 'service mode change is not allowed');
        const taskChanged = !sameValue(next.TaskTemplate, cur.Spec.TaskTemplate);
        const portsChanged = !sameValue(next.EndpointSpec ?? {}, cur.Spec.EndpointSpec ?? {});
        // Clients that do not know the extension (the docker CLI) drop it: keep the current value.
        if (next.Rebalance === undefined && cur.Spec.Rebalance !== undefined) next.Rebalance = cur.Spec.Rebalance;
        // The same for DependsOn (an explicit [] clears it); a rollback returns to the previous spec's.
        if (!opts.rollback && next.DependsOn === undefined && cur.Spec.DependsOn !== undefined)
          next.DependsOn = structuredClone(cur.Spec.DependsOn);
        checkDependencyCycle(
          next,
          tx.all('service').filter((o) => o.ID !== cur.ID),
        );
        const rebalance = !opts.rollback && (next.Rebalance ?? 0) > (cur.Spec.Rebalance ?? 0);
        const updated: ServiceObject = {
          ...cur,
          Spec: next,
          PreviousSpec: previous,
          SpecVersion: taskChanged || portsChanged || rebalance ? cur.SpecVersion + 1 : cur.SpecVersion,
        };
        delete updated.RebalanceTasks;
        // As swarmkit: every update of a job starts a new run of it (`service update --force` included).
        if (cur.JobStatus)
          updated.JobStatus = { JobIteration: { Index: cur.JobStatus.JobIteration.Index + 1 }, LastExecution: tx.now };
        if (rebalance) {
          if (!('Replicated' in next.Mode))
            throw rpcError('invalid_argument', 'only replicated services can be rebalanced');
          updated.RebalanceTasks = tasksToRebalance(cur, tx.all('node'), tx.all('task'));
        }
        if (opts.rollback)
          updated.UpdateStatus = {
            State: 'rollback_started',
            StartedAt: tx.now,
            Message: 'manually requested rollback',
          };
        else if (taskChanged || portsChanged || rebalance) delete updated.UpdateStatus;
        tx.update('service', updated);
      });
      return { warnings: [] };
    },
  ),

  removeService: write(async (ctx, ref: string): Promise<void> => {
    const service = findService(ctx.store, ref);
    await storeWrite(ctx, (tx) => {
      if (!tx.get('service', service.ID)) throw new ShoalError('not_found', `service ${ref} not found`);
      tx.delete('service', service.ID);
      for (const t of tx.find('task', (x) => x.ServiceID === service.ID)) {
        if (t.DesiredState !== 'remove') tx.update('task', { ...t, DesiredState: 'remove' });
      }
    });
  }),
};

/** Fills what Docker's daemon fills before handing a spec to swarmkit. */
export function normalizeServiceSpec(spec: ServiceSpec): ServiceSpec {
  const s = structuredClone(spec);
  s.Labels ??= {};
  s.TaskTemplate ??= {};
  s.TaskTemplate.ForceUpdate ??= 0;
  // The defaults the Engine API shows are stored, so a spec read and sent back compares equal.
  s.TaskTemplate.Runtime ??= 'container';
  if (s.TaskTemplate.ContainerSpec) s.TaskTemplate.ContainerSpec.Isolation ??= 'default';
  s.EndpointSpec ??= {};
  s.EndpointSpec.Mode ??= 'vip';
  s.Mode ??= { Replicated: { Replicas: 1 } };
  if ('Replicated' in s.Mode) {
    s.Mode.Replicated ??= {};
    s.Mode.Replicated.Replicas ??= 1;
  }
  const job = replicatedJobLimits(s);
  if (job) s.Mode = { ReplicatedJob: { MaxConcurrent: job.maxConcurrent, TotalCompletions: job.totalCompletions } };
  // An empty enum string means the default, as it does once Docker turns the spec into gRPC enums
  // (`docker stack deploy` sends `"Order": ""` for an update_config without `order`).
  if ((s.EndpointSpec.Mode as string) === '') s.EndpointSpec.Mode = 'vip';
  for (const p of s.EndpointSpec.Ports ?? []) {
    if (!p.Protocol) p.Protocol = 'tcp';
    if (!p.PublishMode) p.PublishMode = 'ingress';
  }
  for (const u of [s.UpdateConfig, s.RollbackConfig]) {
    if (!u) continue;
    // Swarmkit's enums always have a value: inspect shows the defaults, given or not.
    if (!u.Order) u.Order = 'stop-first';
    if (!u.FailureAction) u.FailureAction = 'pause';
  }
  return s;
}
