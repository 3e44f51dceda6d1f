/**
 * How system tests drive a `shoal lab`: its subcommands, commands run on one of its hosts (where
 * `docker` talks to that host's shoal daemon), the hosts' addresses, and plain HTTP to them.
 */
import { existsSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { ok, ROOT, run, type RunResult } from '../integration/support.js';

export class LabClient {
  constructor(readonly name: string) {}

  /** `shoal lab SUB --name NAME ...`: the name goes right after the subcommand, before anything `exec` passes on. */
  readonly argv = (args: string[]): string[] => [
    path.join(ROOT, 'bin/shoal'),
    'lab',
    args[0]!,
    '--name',
    this.name,
    ...args.slice(1),
  ];

  readonly lab = (args: string[], timeoutMs = 300_000): string => ok(process.execPath, this.argv(args), {}, timeoutMs);
  readonly labRaw = (args: string[], timeoutMs = 120_000): RunResult =>
    run(process.execPath, this.argv(args), {}, timeoutMs);
  /** Runs a command on a host; fails with its output when it exits non-zero. */
  readonly on = (host: string, cmd: string[], timeoutMs?: number): string =>
    this.lab(['exec', host, '--', ...cmd], timeoutMs);
  readonly tryOn = (host: string, cmd: string[], timeoutMs = 60_000): RunResult =>
    this.labRaw(['exec', host, '--', ...cmd], timeoutMs);
  /** shoal's own CLI on a host. */
  readonly shoalOn = (host: string, args: string[], timeoutMs?: number): string =>
    this.on(host, [process.execPath, path.join(ROOT, 'bin/shoal'), ...args], timeoutMs);

  /** Each host's eth0 address. */
  addresses(hosts: readonly string[]): Record<string, string> {
    return Object.fromEntries(
      hosts.map((h) => [
        h,
        this.on(h, ['sh', '-c', "ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1"]).trim(),
      ]),
    );
  }

  /** `lab down`, if the lab still exists (after hooks run even when `lab up` failed). */
  down(): void {
    if (existsSync(`/run/shoal-lab/${this.name}/state.json`)) run(process.execPath, this.argv(['down']), {}, 300_000);
  }
}

/** One HTTP GET on a fresh connection (a new flow for the mesh); resolves with the body as sent. */
export function httpGet(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: '/', agent: false, timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout to ${host}:${port}`)));
    req.on('error', reject);
  });
}
