/** `shoal stack ...`: deploy, ls, ps, services, rm and rollback, with docker's output. */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { deployStack, StackDeployError, type ResolveImage } from '../../stack/deploy.js';
import { loadStack, StackFileError } from '../../stack/load.js';
import { removeStack } from '../../stack/remove.js';
import { rollbackStack } from '../../stack/rollback.js';
import { labelFilter, NAMESPACE_LABEL } from '../../stack/stack-api.js';
import { CliError, filtersParam, parseFilterFlags, type ApiClient } from '../client.js';
import { renderTable } from '../format/table.js';
import { formatList } from '../format/template.js';
import { collect } from '../opts.js';
import { waitForStack } from '../stack-progress.js';
import { serviceList } from './service-table.js';
import { renderTasks } from './task-table.js';
import type { WService, WTask } from './wire-types.js';

type Api = () => ApiClient;
const out = (s: string): void => void process.stdout.write(s);
const err = (s: string): void => void process.stderr.write(s);

/** `--detach`, `--detach=true`, `--detach=false`, as docker's boolean flags take them. */
function bool(v: string | undefined): boolean {
  if (v === undefined || v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new CliError(`invalid boolean value "${v}"`);
}

function detachOption(): Option {
  return new Option('-d, --detach [bool]', 'exit immediately instead of waiting for the stack services to converge')
    .argParser(bool)
    .default(true);
}

/** The stack's services (with status) as `stack services` and `stack ps` look them up. */
async function stackServices(
  api: ApiClient,
  namespace: string,
  extra: Record<string, string[]> = {},
): Promise<WService[]> {
  const f = { ...extra, label: [...(extra.label ?? []), `${NAMESPACE_LABEL}=${namespace}`] };
  return api.get<WService[]>(`/services?status=true&${filtersParam(f)}`);
}

export function stackCommand(api: Api): Command {
  const cmd = new Command('stack').description('Manage Swarm stacks').enablePositionalOptions();

  cmd
    .command('deploy')
    .alias('up')
    .description('Deploy a new stack or update an existing stack')
    .argument('<stack>')
    .option('-c, --compose-file <file>', 'path to a Compose file (repeat to override)', collect, [])
    .option('--prune', 'prune services that are no longer referenced')
    .addOption(
      new Option('--resolve-image <mode>', 'query the registry to resolve image digest')
        .choices(['always', 'changed', 'never'])
        .default('always'),
    )
    .option('--with-registry-auth', 'accepted for docker compatibility; shoal contacts no registry')
    .addOption(detachOption())
    .option('-q, --quiet', 'suppress progress output')
    .action(
      async (
        namespace: string,
        o: { composeFile: string[]; prune?: boolean; resolveImage: ResolveImage; detach: boolean; quiet?: boolean },
      ) => {
        if (!o.composeFile.length) throw new CliError('Please specify a Compose file (with --compose-file).');
        const files = o.composeFile.map((path) => {
          try {
            return { path, content: path === '-' ? readFileSync(0, 'utf8') : readFileSync(path, 'utf8') };
          } catch (e) {
            throw new CliError(
              `open ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`,
            );
          }
        });
        let stack;
        try {
          stack = loadStack(namespace, files, {
            env: process.env,
            cwd: process.cwd(),
            readFile: (p) => readFileSync(p, 'utf8'),
          });
        } catch (e) {
          if (e instanceof StackFileError) throw new CliError(e.message);
          throw e;
        }
        let changed;
        try {
          changed = await deployStack(api(), stack, {
            prune: Boolean(o.prune),
            resolveImage: o.resolveImage,
            out: (l) => out(`${l}\n`),
            warn: (l) => err(l.endsWith('\n') ? l : `${l}\n`),
          });
        } catch (e) {
          if (e instanceof StackDeployError) throw new CliError(e.message);
          throw e;
        }
        if (o.detach) return;
        await waitForStack(api(), namespace, changed, o.quiet ? { ...quietIo } : undefined);
      },
    );

  cmd
    .command('ls')
    .alias('list')
    .description('List stacks')
    .option('--format <format>', 'format output using a custom template')
    .action(async (o: { format?: string }) => {
      const services = await api().get<WService[]>(`/services?${labelFilter()}`);
      const counts = new Map<string, number>();
      for (const s of services) {
        const ns = s.Spec.Labels?.[NAMESPACE_LABEL];
        if (ns !== undefined) counts.set(ns, (counts.get(ns) ?? 0) + 1);
      }
      const rows = [...counts]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([Name, n]) => ({ Name, Services: String(n) }));
      if (o.format) return out(formatList(o.format, rows, { Name: 'NAME', Services: 'SERVICES' }));
      out(renderTable([['NAME', 'SERVICES'], ...rows.map((r) => [r.Name, r.Services])]));
    });

  cmd
    .command('services')
    .description('List the services in the stack')
    .argument('<stack>')
    .option('-q, --quiet', 'only display IDs')
    .option('-f, --filter <filter>', 'filter output based on conditions provided', collect, [])
    .option('--format <format>', 'format output using a custom template')
    .action(async (namespace: string, o: { quiet?: boolean; filter: string[]; format?: string }) => {
      const services = await stackServices(api(), namespace, parseFilterFlags(o.filter));
      if (!services.length && !o.quiet && !o.format) {
        err(`Nothing found in stack: ${namespace}\n`);
        return;
      }
      out(serviceList(services, o));
    });

  cmd
    .command('ps')
    .description('List the tasks in the stack')
    .argument('<stack>')
    .option('--no-trunc', 'do not truncate output')
    .option('--no-resolve', 'do not map IDs to names')
    .option('-q, --quiet', 'only display task IDs')
    .option('-f, --filter <filter>', 'filter output based on conditions provided', collect, [])
    .option('--format <format>', 'pretty-print tasks using a Go template')
    .action(async (namespace: string, o: { trunc: boolean; quiet?: boolean; filter: string[]; format?: string }) => {
      const f = parseFilterFlags(o.filter);
      f.label = [...(f.label ?? []), `${NAMESPACE_LABEL}=${namespace}`];
      const tasks = await api().get<WTask[]>(`/tasks?${filtersParam(f)}`);
      if (!tasks.length) throw new CliError(`nothing found in stack: ${namespace}`);
      out(
        await renderTasks(api(), tasks, {
          noTrunc: !o.trunc,
          quiet: Boolean(o.quiet),
          format: o.format,
          now: Date.now(),
        }),
      );
    });

  cmd
    .command('rm')
    .aliases(['remove', 'down'])
    .description('Remove one or more stacks')
    .argument('<stack...>')
    .addOption(detachOption())
    .action(async (namespaces: string[]) => {
      const failed: string[] = [];
      for (const ns of namespaces) {
        const r = await removeStack(api(), ns, (l) => out(`${l}\n`));
        if (!r.found) err(`Nothing found in stack: ${ns}\n`);
        for (const f of r.failures) err(`${f}\n`);
        if (r.failures.length) failed.push(ns);
      }
      if (failed.length) throw new CliError(`failed to remove some resources from stack: ${failed.join(', ')}`);
    });

  cmd
    .command('rollback')
    .description('Return every service the last deploy changed to its previous spec (shoal)')
    .argument('<stack>')
    .addOption(detachOption())
    .option('-q, --quiet', 'suppress progress output')
    .action(async (namespace: string, o: { detach: boolean; quiet?: boolean }) => {
      let changed;
      try {
        changed = await rollbackStack(api(), namespace, (l) => out(`${l}\n`));
      } catch (e) {
        if (e instanceof StackDeployError) throw new CliError(e.message);
        throw e;
      }
      if (o.detach) return;
      await waitForStack(api(), namespace, changed, o.quiet ? { ...quietIo } : undefined);
    });

  return cmd;
}

const quietIo = {
  write: (): void => undefined,
  isTTY: false,
  sleep: (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms)),
  now: (): number => Date.now(),
};
