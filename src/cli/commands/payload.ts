/**
 * `shoal secret ...` and `shoal config ...`: create, ls, inspect, rm, with docker's output, and the
 * `--secret`/`--config` reference flags of `service create|update` as docker's CLI parses them.
 */
import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import type { ConfigReference, SecretReference } from '../../store/types.js';
import { CliError, filtersParam, parseFilterFlags, removeEach, type ApiClient } from '../client.js';
import { humanDuration } from '../format/humanize.js';
import { renderTable } from '../format/table.js';
import { formatList, renderTemplate } from '../format/template.js';
import { collect, parseKeyValues } from '../opts.js';

type Api = () => ApiClient;
type Kind = 'secret' | 'config';
const out = (s: string): void => void process.stdout.write(s);

interface WPayload {
  ID: string;
  Version: { Index: number };
  CreatedAt: string;
  UpdatedAt: string;
  Spec: { Name: string; Labels?: Record<string, string> | null; Data?: string; Driver?: { Name: string } };
}

async function readData(file: string): Promise<Buffer> {
  if (file !== '-') return readFile(file);
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const ago = (iso: string): string => `${humanDuration(Date.now() - Date.parse(iso))} ago`;

/** docker's `--pretty` view of one secret or config. */
function pretty(kind: Kind, p: WPayload): string {
  const lines = [`ID:              ${p.ID}`, `Name:              ${p.Spec.Name}`];
  const labels = Object.entries(p.Spec.Labels ?? {});
  if (labels.length) lines.push('Labels:', ...labels.map(([k, v]) => ` - ${k}${v ? `=${v}` : ''}`));
  if (kind === 'secret') lines.push(`Driver:            ${p.Spec.Driver?.Name ?? ''}`);
  lines.push(`Created at:        ${p.CreatedAt}`, `Updated at:        ${p.UpdatedAt}`);
  if (kind === 'config') lines.push('Data:', Buffer.from(p.Spec.Data ?? '', 'base64').toString('utf8'));
  return lines.join('\n') + '\n';
}

export function payloadCommand(kind: Kind, api: Api): Command {
  const plural = `${kind}s`;
  const cmd = new Command(kind).description(`Manage Swarm ${plural}`);

  cmd
    .command('create')
    .description(`Create a ${kind} from a file or STDIN as content`)
    .argument('<name>')
    .argument('<file>', 'a file, or - for STDIN')
    .option('-l, --label <k=v>', `${kind} labels`, collect, [])
    .option('-d, --driver <driver>', `${kind} driver`)
    .option('--template-driver <driver>', 'template driver')
    .action(async (name: string, file: string, o: { label: string[]; driver?: string; templateDriver?: string }) => {
      const data = await readData(file);
      const body: Record<string, unknown> = {
        Name: name,
        Labels: parseKeyValues(o.label),
        Data: data.toString('base64'),
      };
      if (o.driver) body.Driver = { Name: o.driver };
      if (o.templateDriver) body.Templating = { Name: o.templateDriver };
      const r = await api().post<{ ID: string }>(`/${plural}/create`, body);
      out(`${r.ID}\n`);
    });

  cmd
    .command('ls')
    .alias('list')
    .description(`List ${plural}`)
    .option('-q, --quiet', 'only display IDs')
    .option('-f, --filter <filter>', 'filter output based on conditions provided', collect, [])
    .option('--format <format>', `format output using a custom template`)
    .action(async (o: { quiet?: boolean; filter: string[]; format?: string }) => {
      const q = filtersParam(parseFilterFlags(o.filter));
      const list = await api().get<WPayload[]>(`/${plural}${q ? `?${q}` : ''}`);
      list.sort((a, b) => (a.Spec.Name < b.Spec.Name ? -1 : a.Spec.Name > b.Spec.Name ? 1 : 0));
      if (o.quiet) return out(list.map((p) => `${p.ID}\n`).join(''));
      const rows = list.map((p) => ({
        ID: p.ID,
        Name: p.Spec.Name,
        Driver: p.Spec.Driver?.Name ?? '',
        CreatedAt: ago(p.CreatedAt),
        UpdatedAt: ago(p.UpdatedAt),
        Labels: Object.entries(p.Spec.Labels ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join(','),
      }));
      const headers = {
        ID: 'ID',
        Name: 'NAME',
        Driver: 'DRIVER',
        CreatedAt: 'CREATED',
        UpdatedAt: 'UPDATED',
        Labels: 'LABELS',
      };
      if (o.format) return out(formatList(o.format, rows, headers));
      const cols: (keyof (typeof rows)[number])[] =
        kind === 'secret'
          ? ['ID', 'Name', 'Driver', 'CreatedAt', 'UpdatedAt']
          : ['ID', 'Name', 'CreatedAt', 'UpdatedAt'];
      out(renderTable([cols.map((c) => headers[c]), ...rows.map((r) => cols.map((c) => r[c]))]));
    });

  cmd
    .command('inspect')
    .description(`Display detailed information on one or more ${plural}`)
    .argument('<name...>')
    .option('-f, --format <format>', 'format the output using the given Go template')
    .option('--pretty', 'print the information in a human friendly format')
    .action(async (refs: string[], o: { format?: string; pretty?: boolean }) => {
      const list: WPayload[] = [];
      for (const ref of refs) list.push(await api().get<WPayload>(`/${plural}/${encodeURIComponent(ref)}`));
      if (o.pretty) return out(list.map((p) => pretty(kind, p)).join('\n'));
      if (o.format) return out(list.map((p) => renderTemplate(o.format!, p) + '\n').join(''));
      out(JSON.stringify(list, null, 4) + '\n');
    });

  cmd
    .command('rm')
    .alias('remove')
    .description(`Remove one or more ${plural}`)
    .argument('<name...>')
    .action((refs: string[]) => removeEach(api(), plural, refs));

  return cmd;
}

/** A file reference as docker's CLI reads `--secret`/`--config`: `NAME`, or `source=S,target=T,uid=U,gid=G,mode=M`. */
function parseFileReference(
  flag: string,
  value: string,
): { source: string; File: { Name: string; UID: string; GID: string; Mode: number } } {
  let source = '';
  const file = { Name: '', UID: '0', GID: '0', Mode: 0o444 };
  if (!value.includes('=')) {
    source = value;
  } else {
    for (const field of value.split(',')) {
      const i = field.indexOf('=');
      if (i < 0)
        throw new CliError(
          `invalid argument "${value}" for "${flag}" flag: invalid field '${field}' must be a key=value pair`,
        );
      const [k, v] = [field.slice(0, i).toLowerCase(), field.slice(i + 1)];
      if (k === 'source' || k === 'src') source = v;
      else if (k === 'target') file.Name = v;
      else if (k === 'uid') file.UID = v;
      else if (k === 'gid') file.GID = v;
      else if (k === 'mode') {
        // strconv.ParseUint(v, 0, 32): a leading 0 means octal.
        const m = /^0[0-7]*$/.test(v) ? parseInt(v, 8) : /^[1-9]\d*$/.test(v) ? Number(v) : NaN;
        if (!Number.isInteger(m))
          throw new CliError(`invalid argument "${value}" for "${flag}" flag: invalid mode specified: ${v}`);
        file.Mode = m;
      } else throw new CliError(`invalid argument "${value}" for "${flag}" flag: invalid field key ${k}`);
    }
  }
  if (!source) throw new CliError(`invalid argument "${value}" for "${flag}" flag: source is required`);
  file.Name ||= source;
  return { source, File: file };
}

export function parseSecretRef(value: string, flag = '--secret'): SecretReference {
  const r = parseFileReference(flag, value);
  return { File: r.File, SecretID: '', SecretName: r.source };
}

export function parseConfigRef(value: string, flag = '--config'): ConfigReference {
  const r = parseFileReference(flag, value);
  return { File: r.File, ConfigID: '', ConfigName: r.source };
}
