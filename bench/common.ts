/**
 * What every bench shares: the docker CLI against one API, a private shoal daemon, real Docker Swarm
 * on the local engine (never both at once: both want port 2377), polling and medians.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DOCKER = '/usr/local/bin/docker';
export const ENGINE = 'unix:///var/run/docker.sock';

export function docker(host: string, a: string[], allowFail = false): string {
  const r = spawnSync(DOCKER, a, { env: { ...process.env, DOCKER_HOST: host }, encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0 && !allowFail) throw new Error(`docker ${a.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Seconds from `t0` until `done()` holds, polled every 100 ms. */
export async function secondsUntil(what: string, t0: number, done: () => boolean, limitMs = 600_000): Promise<number> {
  for (;;) {
    if (done()) return (performance.now() - t0) / 1000;
    if (performance.now() - t0 > limitMs) throw new Error(`timed out: ${what}`);
    await sleep(100);
  }
}

/** The value after `--name` on the command line, if given. */
export function stringArg(name: string): string | undefined {
  const args = process.argv.slice(2);
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}

export function intArg(name: string, d: number): number {
  const v = stringArg(name);
  return v !== undefined ? Number(v) : d;
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Removes a service and waits until none of its containers is left on the engine. */
export async function drain(host: string, name: string): Promise<void> {
  docker(host, ['service', 'rm', name], true);
  for (let i = 0; i < 600; i++) {
    const left = docker(ENGINE, ['ps', '-aq', '--filter', `label=com.docker.swarm.service.name=${name}`]).trim();
    if (!left) return;
    await sleep(200);
  }
}

export function assertEngineNotInSwarm(): void {
  if (docker(ENGINE, ['info', '--format', '{{.Swarm.LocalNodeState}}']).trim() !== 'inactive') {
    throw new Error('the local engine is already in swarm mode; leave it first');
  }
}

/** Runs `fn` with real Docker Swarm initialised on the local engine, and leaves it afterwards. */
export async function withDockerSwarm<T>(fn: (host: string) => Promise<T>): Promise<T> {
  docker(ENGINE, ['swarm', 'init', '--advertise-addr', '127.0.0.1']);
  try {
    return await fn(ENGINE);
  } finally {
    docker(ENGINE, ['swarm', 'leave', '--force'], true);
  }
}

/** Runs `fn` against a fresh one-manager shoal daemon, stopped and wiped afterwards. */
export async function withShoal<T>(fn: (host: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(path.join(tmpdir(), 'shoal-bench-'));
  const host = `unix://${dir}/shoal.sock`;
  const p: ChildProcess = spawn(
    process.execPath,
    [
      path.join(ROOT, 'bin/shoal'),
      'daemon',
      '--data-root',
      `${dir}/data`,
      '--host',
      host,
      '--advertise-addr',
      '127.0.0.1',
      '--log-level',
      'warn',
    ],
    {
      stdio: 'ignore',
    },
  );
  try {
    for (let i = 0; i < 100; i++) {
      const r = spawnSync(DOCKER, ['info', '--format', '{{.Swarm.LocalNodeState}}'], {
        env: { ...process.env, DOCKER_HOST: host },
      });
      if (r.status === 0) break;
      await sleep(200);
    }
    docker(host, ['swarm', 'init']);
    const out = await fn(host);
    docker(host, ['swarm', 'leave', '--force'], true);
    return out;
  } finally {
    if (p.exitCode === null) {
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

export const round3 = (x: number): number => +x.toFixed(3);
