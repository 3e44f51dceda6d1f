/**
 * Shared parts of the integration tests: a real `shoal daemon` process on a temporary socket and data
 * root, driven through the unmodified docker CLI (or bin/shoal), against the real local Docker Engine.
 * Everything a test starts is stopped and removed in `cleanup`, even when the test fails.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const DOCKER = existsSync('/usr/local/bin/docker') ? '/usr/local/bin/docker' : 'docker';
export const RUNTIME = 'unix:///var/run/docker.sock';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): RunResult {
  const r = spawnSync(cmd, args, { env: { ...process.env, ...env }, encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

/** Runs a command and returns its stdout, failing with its output when it exits non-zero. */
export function ok(cmd: string, args: string[], env: Record<string, string> = {}, timeoutMs?: number): string {
  const r = run(cmd, args, env, timeoutMs);
  if (r.code !== 0)
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

/** The local engine, directly (to check what really runs). */
export function engine(args: string[]): string {
  return ok(DOCKER, args, { DOCKER_HOST: RUNTIME });
}

export async function waitFor<T>(
  what: string,
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 120_000,
  everyMs = 250,
  explain?: () => string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      // Awaited: an async check's promise is not its answer.
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      let detail = '';
      try {
        detail = explain ? `\n${explain()}` : '';
      } catch (e) {
        detail = `\n(diagnostics failed: ${String(e)})`;
      }
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}${detail}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export class ShoalProcess {
  proc: ChildProcess | undefined;
  readonly socket: string;
  readonly host: string;
  log = '';
  /** More `shoal daemon` flags (e.g. --listen-addr, --metrics-addr). */
  extraArgs: string[] = [];

  constructor(
    readonly dir: string,
    readonly hostname = 'shoal-test-node',
  ) {
    this.socket = path.join(dir, 'shoal.sock');
    this.host = `unix://${this.socket}`;
  }

  static async create(hostname?: string): Promise<ShoalProcess> {
    return new ShoalProcess(await mkdtemp(path.join(tmpdir(), 'shoal-it-')), hostname);
  }

  async start(): Promise<void> {
    await rm(this.socket, { force: true });
    const p = spawn(
      process.execPath,
      [
        path.join(ROOT, 'bin/shoal'),
        'daemon',
        '--data-root',
        path.join(this.dir, 'data'),
        '--host',
        this.host,
        '--runtime',
        RUNTIME,
        '--hostname',
        this.hostname,
        '--advertise-addr',
        '127.0.0.1',
        ...this.extraArgs,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    p.stdout?.on('data', (d: Buffer) => (this.log += d.toString()));
    p.stderr?.on('data', (d: Buffer) => (this.log += d.toString()));
    this.proc = p;
    await waitFor('the shoal API socket', () => run(DOCKER, ['version'], this.env()).code === 0, 30_000);
  }

  env(): Record<string, string> {
    return { DOCKER_HOST: this.host, SHOAL_HOST: this.host };
  }

  docker(args: string[], timeoutMs?: number): string {
    return ok(DOCKER, args, this.env(), timeoutMs);
  }

  dockerRaw(args: string[]): RunResult {
    return run(DOCKER, args, this.env());
  }

  shoal(args: string[], timeoutMs?: number): string {
    return ok(process.execPath, [path.join(ROOT, 'bin/shoal'), ...args], this.env(), timeoutMs);
  }

  /** kill -9: no chance to clean up, as when a host loses power. */
  async kill9(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
    this.proc = undefined;
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
    this.proc = undefined;
  }

  /** Stops the daemon, removes every container it created on the engine, and its files. */
  async cleanup(): Promise<void> {
    await this.stop();
    for (const nodeId of this.nodeIds) removeContainersOfNode(nodeId);
    await rm(this.dir, { recursive: true, force: true });
  }

  /** What a failed wait prints: the service's tasks, its containers on the engine, the daemon's last lines. */
  explain(service: string): () => string {
    return () => {
      const ps = this.dockerRaw(['service', 'ps', '--no-trunc', service]);
      const containers = run(
        DOCKER,
        [
          'ps',
          '-a',
          '--filter',
          `label=com.docker.swarm.service.name=${service}`,
          '--format',
          '{{.ID}} {{.Names}} {{.Status}} {{.Labels}}',
        ],
        { DOCKER_HOST: RUNTIME },
      );
      const tail = this.log.split('\n').slice(-60).join('\n');
      return `service ps:\n${ps.stdout}${ps.stderr}\ncontainers:\n${containers.stdout}${containers.stderr}\ndaemon log (tail):\n${tail}`;
    };
  }

  /** Node ids this daemon has had (a node that left and re-joined gets a new one). */
  readonly nodeIds = new Set<string>();

  /** Remembers the current node id, so cleanup can find its containers even after a crash. */
  rememberNodeId(): string {
    const id = this.docker(['info', '--format', '{{.Swarm.NodeID}}']).trim();
    if (id) this.nodeIds.add(id);
    return id;
  }
}

export function removeContainersOfNode(nodeId: string): void {
  const ids = run(DOCKER, ['ps', '-aq', '--filter', `label=io.shoal.node.id=${nodeId}`], { DOCKER_HOST: RUNTIME })
    .stdout.split('\n')
    .filter(Boolean);
  if (ids.length) run(DOCKER, ['rm', '-f', '-v', ...ids], { DOCKER_HOST: RUNTIME });
}

/** Task containers of a service on the local engine: `name image state`. */
export function containersOf(
  service: string,
  all = false,
): { id: string; name: string; image: string; state: string }[] {
  const out = engine([
    'ps',
    ...(all ? ['-a'] : []),
    '--filter',
    `label=com.docker.swarm.service.name=${service}`,
    '--filter',
    'label=io.shoal.node.id',
    '--format',
    '{{.ID}} {{.Names}} {{.Image}} {{.State}}',
  ]);
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [id, name, image, state] = l.split(' ');
      return { id: id!, name: name!, image: image!, state: state! };
    });
}
