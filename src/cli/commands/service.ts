/** `shoal service ...`: create, ls, ps, inspect, logs, scale, update, rollback, rm. */
import { Command, Option } from 'commander';
import type { ServiceSpec } from '../../store/types.js';
import { CliError, filtersParam, parseFilterFlags, removeEach, type ApiClient } from '../client.js';
import { goDuration } from '../format/humanize.js';
import { renderTemplate } from '../format/template.js';
import { parseConfigRef, parseSecretRef } from './payload.js';
import { collect, parseKeyValues, parseMount, parsePublish } from '../opts.js';
import { waitForConvergence } from '../progress.js';
import { applyCommonFlags, pref, specFromCreateFlags, type SpecFlags } from './service-spec.js';
import { serviceList } from './service-table.js';
import { renderTasks } from './task-table.js';
import type { WNode, WService, WTask } from './wire-types.js';
import { streamServiceLogs } from './service-logs.js';

type Api = () => ApiClient;
const out = (s: string): void => void process.stdout.write(s);

/** Flags shared by create and update, with docker's names. */
function commonFlags(c: Command): Command {
  return c
    .option('--container-label <k=v>', 'container labels', collect, [])
    .option('-u, --user <user>', 'username or UID')
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('--hostname <name>', 'container hostname')
    .option('--init', 'use an init inside each service container')
    .option('-t, --tty', 'allocate a pseudo-TTY')
    .option('--stop-grace-period <duration>', 'time to wait before force killing a container')
    .option('--stop-signal <signal>', 'signal to stop the container')
    .option('--entrypoint <cmd>', 'overwrite the default ENTRYPOINT of the image')
    .option('--health-cmd <cmd>', 'command to run to check health')
    .option('--health-interval <duration>', 'time between running the check')
    .option('--health-timeout <duration>', 'maximum time to allow one check to run')
    .option('--health-retries <n>', 'consecutive failures needed to report unhealthy')
    .option('--health-start-period <duration>', 'start period before health-retries count')
    .option('--no-healthcheck', 'disable any container-specified HEALTHCHECK')
    .option('--limit-cpu <cpus>', 'limit CPUs')
    .option('--limit-memory <bytes>', 'limit memory')
    .option('--reserve-cpu <cpus>', 'reserve CPUs')
    .option('--reserve-memory <bytes>', 'reserve memory')
    .option('--restart-condition <cond>', 'restart when condition is met ("none", "on-failure", "any")')
    .option('--restart-delay <duration>', 'delay between restart attempts')
    .option('--restart-max-attempts <n>', 'maximum number of restarts before giving up')
    .option('--restart-window <duration>', 'window used to evaluate the restart policy')
    .option('--replicas-max-per-node <n>', 'maximum number of tasks per node (0 = unlimited)')
    .option('--update-parallelism <n>', 'maximum number of tasks updated simultaneously (0 to update all at once)')
    .option('--update-delay <duration>', 'delay between updates')
    .option('--update-failure-action <action>', 'action on update failure ("pause", "continue", "rollback")')
    .option('--update-monitor <duration>', 'duration after each task update to monitor for failure')
    .option('--update-max-failure-ratio <ratio>', 'failure rate to tolerate during an update')
    .option('--update-order <order>', 'update order ("start-first", "stop-first")')
    .option('--rollback-parallelism <n>', 'maximum number of tasks rolled back simultaneously')
    .option('--rollback-delay <duration>', 'delay between task rollbacks')
    .option('--rollback-failure-action <action>', 'action on rollback failure ("pause", "continue")')
    .option('--rollback-monitor <duration>', 'duration after each task rollback to monitor for failure')
    .option('--rollback-max-failure-ratio <ratio>', 'failure rate to tolerate during a rollback')
    .option('--rollback-order <order>', 'rollback order ("start-first", "stop-first")')
    .option('--endpoint-mode <mode>', 'endpoint mode (vip or dnsrr)')
    .option('--with-registry-auth', 'accepted for compatibility; shoal uses no registry')
    .option('--no-resolve-image', 'do not query the registry to resolve image digest')
    .option('-d, --detach', 'exit immediately instead of waiting for the service to converge')
    .option('-q, --quiet', 'suppress progress output');
}

async function progress(
  api: ApiClient,
  id: string,
  label: string,
  o: { detach?: boolean; quiet?: boolean },
): Promise<void> {
  if (o.detach) return;
  if (o.quiet) {
    await waitForConvergence(api, id, label, {
      write: () => undefined,
      isTTY: false,
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      now: Date.now,
    });
    return;
  }
  await waitForConvergence(api, id, label);
}

function printWarnings(w: string[] | null | undefined): void {
  for (const x of w ?? []) process.stderr.write(`${x}\n`);
}

export function serviceCommand(api: Api): Command {
  const cmd = new Command('service').description('Manage services').enablePositionalOptions();

  commonFlags(
    cmd
      .command('create')
      .description('Create a new service')
      .argument('<image>')
      .argument('[command...]')
      // Everything after the image belongs to the container's command, as with docker.
      .passThroughOptions()
      .option('--name <name>', 'service name')
      .option('--replicas <n>', 'number of tasks')
      .option('--mode <mode>', 'service mode ("replicated", "global", "replicated-job", "global-job")', 'replicated')
      .option('--max-concurrent <n>', 'number of job tasks to run concurrently (default equal to --replicas)')
      .option('-e, --env <k=v>', 'set environment variables', collect, [])
      .option('-l, --label <k=v>', 'service labels', collect, [])
      .option('-p, --publish <port>', 'publish a port as a node port', collect, [])
      .option('--mount <mount>', 'attach a filesystem mount to the service', collect, [])
      .option('--secret <secret>', 'specify secrets to expose to the service', collect, [])
      .option('--config <config>', 'specify configurations to expose to the service', collect, [])
      .option('--constraint <expr>', 'placement constraints', collect, [])
      .option('--placement-pref <pref>', 'placement preferences', collect, [])
      .option('--network <net>', 'network attachments', collect, []),
  ).action(
    async (image: string, args: string[], f: SpecFlags & { detach?: boolean; quiet?: boolean; network?: string[] }) => {
      const spec = specFromCreateFlags(f, image, args);
      if (f.network?.length) spec.TaskTemplate.Networks = f.network.map((n) => ({ Target: n }));
      const r = await api().post<{ ID: string; Warnings?: string[] }>('/services/create', spec);
      printWarnings(r.Warnings);
      out(`${r.ID}\n`);
      await progress(api(), r.ID, r.ID, f);
    },
  );

  cmd
    .command('ls')
    .alias('list')
    .description('List services')
    .option('-q, --quiet', 'only display IDs')
    .option('-f, --filter <filter>', 'filter output based on conditions provided', collect, [])
    .option('--format <format>', 'format output using a custom template')
    .action(async (o: { quiet?: boolean; filter: string[]; format?: string }) => {
      const q = filtersParam(parseFilterFlags(o.filter));
      const services = await api().get<WService[]>(`/services?${o.quiet ? '' : 'status=true'}${q ? `&${q}` : ''}`);
      out(serviceList(services, o));
    });

  cmd
    .command('ps')
    .description('List the tasks of one or more services')
    .argument('<service...>')
    .option('--no-trunc', 'do not truncate output')
    .option('-q, --quiet', 'only display task IDs')
    .option('-f, --filter <filter>', 'filter output based on conditions provided', collect, [])
    .option('--format <format>', 'pretty-print tasks using a Go template')
    .action(async (refs: string[], o: { trunc: boolean; quiet?: boolean; filter: string[]; format?: string }) => {
      const a = api();
      const ids: string[] = [];
      for (const ref of refs)
        ids.push((await a.get<WService>(`/services/${encodeURIComponent(ref)}?insertDefaults=false`)).ID);
      const f = parseFilterFlags(o.filter);
      const tasks: WTask[] = [];
      for (const id of ids) tasks.push(...(await a.get<WTask[]>(`/tasks?${filtersParam({ ...f, service: [id] })}`)));
      out(
        await renderTasks(a, tasks, { noTrunc: !o.trunc, quiet: Boolean(o.quiet), format: o.format, now: Date.now() }),
      );
    });

  cmd
    .command('inspect')
    .description('Display detailed information on one or more services')
    .argument('<service...>')
    .option('--pretty', 'print the information in a human friendly format')
    .option('-f, --format <format>', 'format output using a custom template')
    .action(async (refs: string[], o: { pretty?: boolean; format?: string }) => {
      const list: WService[] = [];
      for (const ref of refs)
        list.push(await api().get<WService>(`/services/${encodeURIComponent(ref)}?insertDefaults=true`));
      if (o.format) return out(list.map((s) => renderTemplate(o.format!, s) + '\n').join(''));
      if (o.pretty) return out(list.map(prettyService).join('\n\n') + '\n');
      out(JSON.stringify(list, null, 4) + '\n');
    });

  cmd
    .command('logs')
    .description('Fetch the logs of a service or task')
    .argument('<service>')
    .option('-f, --follow', 'follow log output')
    .option('-n, --tail <n>', 'number of lines to show from the end of the logs', 'all')
    .option('-t, --timestamps', 'show timestamps')
    .option('--since <time>', 'show logs since timestamp or relative (e.g. 42m)')
    .option('--raw', 'do not neatly format logs')
    .option('--no-task-ids', 'do not include task IDs in output')
    .option('--no-trunc', 'do not truncate output')
    .option('--details', 'show extra details provided to logs')
    .action((ref: string, o: Parameters<typeof streamServiceLogs>[2]) => streamServiceLogs(api(), ref, o));

  cmd
    .command('scale')
    .description('Scale one or multiple replicated services')
    .argument('<service=replicas...>')
    .option('-d, --detach', 'exit immediately instead of waiting for the service to converge')
    .action(async (pairs: string[], o: { detach?: boolean }) => {
      const a = api();
      const done: { id: string; name: string }[] = [];
      for (const pair of pairs) {
        const m = /^([^=]+)=(\d+)$/.exec(pair);
        if (!m) throw new CliError(`invalid scale specifier '${pair}'.\nSee 'shoal service scale --help'.`);
        const s = await a.get<WService>(`/services/${encodeURIComponent(m[1]!)}?insertDefaults=false`);
        // As docker: scaling a replicated job sets how many completions it needs.
        if ('Replicated' in s.Spec.Mode) s.Spec.Mode = { Replicated: { Replicas: Number(m[2]) } };
        else if ('ReplicatedJob' in s.Spec.Mode)
          s.Spec.Mode = { ReplicatedJob: { ...s.Spec.Mode.ReplicatedJob, TotalCompletions: Number(m[2]) } };
        else throw new CliError('scale can only be used with replicated or replicated-job mode');
        const r = await a.post<{ Warnings?: string[] | null }>(
          `/services/${s.ID}/update?version=${s.Version.Index}`,
          s.Spec,
        );
        printWarnings(r.Warnings);
        out(`${m[1]} scaled to ${m[2]}\n`);
        done.push({ id: s.ID, name: m[1]! });
      }
      for (const d of done) await progress(a, d.id, d.name, o);
    });

  commonFlags(
    cmd
      .command('update')
      .description('Update a service')
      .argument('<service>')
      .option('--image <image>', 'service image tag')
      .option('--replicas <n>', 'number of tasks')
      .option('--args <command>', 'service command args')
      .option('--force', 'force update even if no changes require it')
      .option('--rollback', 'rollback to previous specification')
      .option('--env-add <k=v>', 'add or update an environment variable', collect, [])
      .option('--env-rm <k>', 'remove an environment variable', collect, [])
      .option('--label-add <k=v>', 'add or update a service label', collect, [])
      .option('--label-rm <k>', 'remove a label by its key', collect, [])
      .option('--container-label-add <k=v>', 'add or update a container label', collect, [])
      .option('--container-label-rm <k>', 'remove a container label by its key', collect, [])
      .option('--constraint-add <expr>', 'add or update a placement constraint', collect, [])
      .option('--constraint-rm <expr>', 'remove a constraint', collect, [])
      .option('--placement-pref-add <pref>', 'add a placement preference', collect, [])
      .option('--placement-pref-rm <pref>', 'remove a placement preference', collect, [])
      .option('--mount-add <mount>', 'add or update a mount on a service', collect, [])
      .option('--mount-rm <target>', 'remove a mount by its target path', collect, [])
      .option('--secret-add <secret>', 'add or update a secret on a service', collect, [])
      .option('--secret-rm <secret>', 'remove a secret', collect, [])
      .option('--config-add <config>', 'add or update a config file on a service', collect, [])
      .option('--config-rm <config>', 'remove a configuration file', collect, [])
      .option('--publish-add <port>', 'add or update a published port', collect, [])
      .option('--publish-rm <port>', 'remove a published port by its target port', collect, []),
  ).action(async (ref: string, f: SpecFlags & UpdateFlags) => {
    const a = api();
    const s = await a.get<WService>(`/services/${encodeURIComponent(ref)}?insertDefaults=false`);
    let path = `/services/${s.ID}/update?version=${s.Version.Index}`;
    let spec: ServiceSpec;
    if (f.rollback) {
      spec = s.Spec;
      path += '&rollback=previous';
    } else {
      spec = applyUpdateFlags(structuredClone(s.Spec), f);
      path += '&registryAuthFrom=spec';
    }
    const r = await a.post<{ Warnings?: string[] | null }>(path, spec);
    printWarnings(r.Warnings);
    out(`${ref}\n`);
    await progress(a, s.ID, ref, f);
  });

  cmd
    .command('rollback')
    .description("Revert changes to a service's configuration")
    .argument('<service>')
    .option('-d, --detach', 'exit immediately instead of waiting for the service to converge')
    .option('-q, --quiet', 'suppress progress output')
    .action(async (ref: string, o: { detach?: boolean; quiet?: boolean }) => {
      const a = api();
      const s = await a.get<WService>(`/services/${encodeURIComponent(ref)}?insertDefaults=false`);
      await a.post(`/services/${s.ID}/update?version=${s.Version.Index}&rollback=previous`, s.Spec);
      out(`${ref}\n`);
      await progress(a, s.ID, ref, o);
    });

  cmd
    .command('rebalance')
    .description(
      "Re-spread a replicated service's tasks evenly over its eligible nodes, under its update policy (shoal extension)",
    )
    .argument('<service>')
    .option('-d, --detach', 'exit immediately instead of waiting for the service to converge')
    .option('-q, --quiet', 'suppress progress output')
    .action(async (ref: string, o: { detach?: boolean; quiet?: boolean }) => {
      const a = api();
      const s = await a.get<WService>(`/services/${encodeURIComponent(ref)}?insertDefaults=false`);
      s.Spec.Rebalance = (s.Spec.Rebalance ?? 0) + 1;
      await a.post(`/services/${s.ID}/update?version=${s.Version.Index}`, s.Spec);
      out(`${ref}\n`);
      await progress(a, s.ID, ref, o);
    });

  cmd
    .command('rm')
    .alias('remove')
    .description('Remove one or more services')
    .argument('<service...>')
    .action((refs: string[]) => removeEach(api(), 'services', refs));

  return cmd;
}

interface UpdateFlags {
  image?: string;
  args?: string;
  force?: boolean;
  rollback?: boolean;
  envAdd: string[];
  envRm: string[];
  labelAdd: string[];
  labelRm: string[];
  containerLabelAdd: string[];
  containerLabelRm: string[];
  constraintAdd: string[];
  constraintRm: string[];
  placementPrefAdd: string[];
  placementPrefRm: string[];
  mountAdd: string[];
  mountRm: string[];
  secretAdd?: string[];
  secretRm?: string[];
  configAdd?: string[];
  configRm?: string[];
  publishAdd: string[];
  publishRm: string[];
  detach?: boolean;
  quiet?: boolean;
}

export function applyUpdateFlags(spec: ServiceSpec, f: SpecFlags & UpdateFlags): ServiceSpec {
  const t = spec.TaskTemplate;
  const c = (t.ContainerSpec ??= { Image: '' });
  if (f.image) c.Image = f.image;
  if (f.args !== undefined) c.Args = f.args.split(/\s+/).filter(Boolean);
  if (f.replicas !== undefined) {
    if (!('Replicated' in spec.Mode)) throw new CliError('replicas can only be used with replicated mode');
    spec.Mode = { Replicated: { Replicas: Number(f.replicas) } };
  }
  if (f.force) t.ForceUpdate = (t.ForceUpdate ?? 0) + 1;
  if (f.envAdd.length || f.envRm.length) {
    const env = new Map((c.Env ?? []).map((e) => [e.split('=')[0]!, e]));
    for (const k of f.envRm) env.delete(k.split('=')[0]!);
    for (const e of f.envAdd) env.set(e.split('=')[0]!, e);
    c.Env = [...env.values()];
  }
  if (f.labelAdd.length || f.labelRm.length) {
    const l = { ...(spec.Labels ?? {}) };
    for (const k of f.labelRm) delete l[k];
    Object.assign(l, parseKeyValues(f.labelAdd));
    spec.Labels = l;
  }
  if (f.containerLabelAdd.length || f.containerLabelRm.length) {
    const l = { ...(c.Labels ?? {}) };
    for (const k of f.containerLabelRm) delete l[k];
    Object.assign(l, parseKeyValues(f.containerLabelAdd));
    c.Labels = l;
  }
  if (f.constraintAdd.length || f.constraintRm.length) {
    const p = (t.Placement ??= {});
    p.Constraints = [
      ...(p.Constraints ?? []).filter((x) => !f.constraintRm.includes(x) && !f.constraintAdd.includes(x)),
      ...f.constraintAdd,
    ];
  }
  if (f.placementPrefAdd.length || f.placementPrefRm.length) {
    const p = (t.Placement ??= {});
    const rm = new Set(f.placementPrefRm.map((x) => pref(x).Spread.SpreadDescriptor));
    p.Preferences = [
      ...(p.Preferences ?? []).filter((x) => !rm.has(x.Spread.SpreadDescriptor)),
      ...f.placementPrefAdd.map(pref),
    ];
  }
  if (f.mountAdd.length || f.mountRm.length) {
    const add = f.mountAdd.map(parseMount);
    c.Mounts = [
      ...(c.Mounts ?? []).filter((m) => !f.mountRm.includes(m.Target) && !add.some((a) => a.Target === m.Target)),
      ...add,
    ];
  }
  const [secretAdd, secretRm, configAdd, configRm] = [
    f.secretAdd ?? [],
    f.secretRm ?? [],
    f.configAdd ?? [],
    f.configRm ?? [],
  ];
  if (secretAdd.length || secretRm.length) {
    // As docker: removal by name; an added reference replaces one with the same target.
    const add = secretAdd.map((v) => parseSecretRef(v, '--secret-add'));
    c.Secrets = [
      ...(c.Secrets ?? []).filter(
        (r) => !secretRm.includes(r.SecretName) && !add.some((a) => a.File.Name === r.File.Name),
      ),
      ...add,
    ];
  }
  if (configAdd.length || configRm.length) {
    const add = configAdd.map((v) => parseConfigRef(v, '--config-add'));
    c.Configs = [
      ...(c.Configs ?? []).filter(
        (r) => !configRm.includes(r.ConfigName) && !add.some((a) => a.File.Name === r.File.Name),
      ),
      ...add,
    ];
  }
  if (f.publishAdd.length || f.publishRm.length) {
    const add = f.publishAdd.map(parsePublish);
    const rm = f.publishRm.map((x) => Number(x.split(/[:/]/).pop()?.split('/')[0] ?? x));
    const e = (spec.EndpointSpec ??= { Mode: 'vip' });
    e.Ports = [
      ...(e.Ports ?? []).filter(
        (p) =>
          !rm.includes(p.TargetPort) && !add.some((a) => a.TargetPort === p.TargetPort && a.Protocol === p.Protocol),
      ),
      ...add,
    ];
  }
  return applyCommonFlags(spec, f);
}

function prettyService(s: WService): string {
  const spec = s.Spec;
  const c = spec.TaskTemplate.ContainerSpec;
  const lines: string[] = [];
  lines.push(`ID:\t\t${s.ID}`, `Name:\t\t${spec.Name}`);
  const labels = Object.entries(spec.Labels ?? {});
  if (labels.length) lines.push('Labels:', ...labels.map(([k, v]) => ` ${k}=${v}`));
  if ('Global' in spec.Mode) lines.push('Service Mode:\tGlobal');
  else if ('Replicated' in spec.Mode)
    lines.push('Service Mode:\tReplicated', ` Replicas:\t${spec.Mode.Replicated.Replicas ?? 1}`);
  else lines.push('Service Mode:'); // docker's template prints nothing more for jobs
  if (s.UpdateStatus) {
    lines.push('UpdateStatus:', ` State:\t\t${s.UpdateStatus.State}`);
    if (s.UpdateStatus.StartedAt) lines.push(` Started:\t${s.UpdateStatus.StartedAt}`);
    if (s.UpdateStatus.CompletedAt) lines.push(` Completed:\t${s.UpdateStatus.CompletedAt}`);
    lines.push(` Message:\t${s.UpdateStatus.Message ?? ''}`);
  }
  lines.push('Placement:');
  const cons = spec.TaskTemplate.Placement?.Constraints ?? [];
  if (cons.length) lines.push(` Constraints:\t[${cons.join(' ')}]`);
  for (const [title, u, order] of [
    ['UpdateConfig', spec.UpdateConfig, 'Update order'],
    ['RollbackConfig', spec.RollbackConfig, 'Rollback order'],
  ] as const) {
    if (!u) continue;
    lines.push(`${title}:`, ` Parallelism:\t${u.Parallelism ?? 1}`);
    if (u.Delay) lines.push(` Delay:\t\t${goDuration(u.Delay)}`);
    lines.push(
      ` On failure:\t${u.FailureAction ?? 'pause'}`,
      ` Monitoring Period: ${goDuration(u.Monitor ?? 5e9)}`,
      ` Max failure ratio: ${u.MaxFailureRatio ?? 0}`,
      ` ${order}:    ${u.Order ?? 'stop-first'}`,
    );
  }
  lines.push('ContainerSpec:', ` Image:\t\t${c?.Image ?? ''}`);
  if (c?.Command?.length) lines.push(` Command:\t${c.Command.join(' ')}`);
  if (c?.Args?.length) lines.push(` Args:\t\t${c.Args.join(' ')} `);
  if (c?.Env?.length) lines.push(` Env:\t\t${c.Env.join(' ')}`);
  if (c?.Dir) lines.push(` Dir:\t\t${c.Dir}`);
  if (c?.User) lines.push(` User:\t\t${c.User}`);
  lines.push(` Init:\t\t${Boolean(c?.Init)}`);
  if (c?.StopGracePeriod !== undefined) lines.push(` StopGracePeriod: ${goDuration(c.StopGracePeriod)}`);
  const mounts = c?.Mounts ?? [];
  if (mounts.length)
    lines.push(
      'Mounts:',
      ...mounts.map(
        (m) =>
          ` Target:\t${m.Target}\n  Source:\t${m.Source ?? ''}\n  ReadOnly:\t${Boolean(m.ReadOnly)}\n  Type:\t\t${m.Type}`,
      ),
    );
  lines.push('Resources:');
  const lim = spec.TaskTemplate.Resources?.Limits;
  const res = spec.TaskTemplate.Resources?.Reservations;
  if (res?.NanoCPUs || res?.MemoryBytes)
    lines.push(
      ' Reservations:',
      ...(res.NanoCPUs ? [`  CPU:\t\t${res.NanoCPUs / 1e9}`] : []),
      ...(res.MemoryBytes ? [`  Memory:\t${bytes(res.MemoryBytes)}`] : []),
    );
  if (lim?.NanoCPUs || lim?.MemoryBytes)
    lines.push(
      ' Limits:',
      ...(lim.NanoCPUs ? [`  CPU:\t\t${lim.NanoCPUs / 1e9}`] : []),
      ...(lim.MemoryBytes ? [`  Memory:\t${bytes(lim.MemoryBytes)}`] : []),
    );
  lines.push(`Endpoint Mode:\t${spec.EndpointSpec?.Mode ?? 'vip'}`);
  const ports = s.Endpoint?.Ports ?? [];
  if (ports.length) {
    lines.push('Ports:');
    for (const p of ports)
      lines.push(
        ` PublishedPort = ${p.PublishedPort ?? ''}`,
        `  Protocol = ${p.Protocol ?? 'tcp'}`,
        `  TargetPort = ${p.TargetPort}`,
        `  PublishMode = ${p.PublishMode ?? 'ingress'}`,
      );
  }
  return lines.join('\n');
}

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(3).replace(/0+$/, '')}${units[i]}`;
}

export type { WNode };
void Option;
