/**
 * Convergence of a 50-replica `sleep` service: shoal vs real Docker Swarm on the same local engine,
 * run one after the other (both want port 2377), several rounds. Measured the same way for both: from
 * the `service create` call to `service ls` showing 50/50, polled every 100 ms through each one's API.
 * Prints one JSON object as its last line with per-round times, medians and the ratio.
 *
 *   node dist/bench/converge.js [--rounds 3] [--replicas 50]
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DOCKER = '/usr/local/bin/docker';
const ENGINE = 'unix:///var/run/docker.sock';
const IMAGE = 'shoal-test/busybox:1';

const args = process.argv.slice(2);
const opt = (name: string, d: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : d;
};
const ROUNDS = opt('rounds', 3);
const REPLICAS = opt('replicas', 50);

function docker(host: string, a: string[], allowFail = false): string {
  const r = spawnSync(DOCKER, a, { env: { ...process.env, DOCKER_HOST: host }, encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0 && !allowFail) throw new Error(`docker ${a.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function converge(host: string, name: string): Promise<number> {
  const t0 = performance.now();
  docker(host, ['service', 'create', '-d', '--no-resolve-image', '--name', name, '--replicas', String(REPLICAS), IMAGE, 'sleep', '3600']);
  for (;;) {
    const rep = docker(host, ['service', 'ls', '--filter', `name=${name}`, '--format', '{{.Replicas}}']).trim();
    if (rep.startsWith(`${REPLICAS}/${REPLICAS}`)) return (performance.now() - t0) / 1000;
    if (performance.now() - t0 > 600_000) throw new Error(`${name} did not converge: ${rep}`);
    await sleep(100);
  }
}

async function drain(host: string, name: string): Promise<void> {
  docker(host, ['service', 'rm', name], true);
  for (let i = 0; i < 600; i++) {
    const left = docker(ENGINE, ['ps', '-aq', '--filter', `label=com.docker.swarm.service.name=${name}`]).trim();
    if (!left) return;
    await sleep(200);
  }
}

async function roundDockerSwarm(round: number): Promise<number> {
  docker(ENGINE, ['swarm', 'init', '--advertise-addr', '127.0.0.1']);
  try {
    const t = await converge(ENGINE, `bench-swarm-${round}`);
    await drain(ENGINE, `bench-swarm-${round}`);
    return t;
  } finally {
    docker(ENGINE, ['swarm', 'leave', '--force'], true);
  }
}

async function roundShoal(round: number): Promise<number> {
  const dir = mkdtempSync(path.join(tmpdir(), 'shoal-bench-'));
  const host = `unix://${dir}/shoal.sock`;
  const p = spawn(process.execPath, [path.join(ROOT, 'bin/shoal'), 'daemon', '--data-root', `${dir}/data`, '--host', host, '--advertise-addr', '127.0.0.1', '--log-level', 'warn'], {
    stdio: 'ignore',
  });
  try {
    for (let i = 0; i < 100; i++) {
      const r = spawnSync(DOCKER, ['info', '--format', '{{.Swarm.LocalNodeState}}'], { env: { ...process.env, DOCKER_HOST: host } });
      if (r.status === 0) break;
      await sleep(200);
    }
    docker(host, ['swarm', 'init']);
    const t = await converge(host, `bench-shoal-${round}`);
    await drain(host, `bench-shoal-${round}`);
    docker(host, ['swarm', 'leave', '--force'], true);
    return t;
  } finally {
    p.kill('SIGTERM');
    await new Promise((r) => p.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  if (docker(ENGINE, ['info', '--format', '{{.Swarm.LocalNodeState}}']).trim() !== 'inactive') {
    throw new Error('the local engine is already in swarm mode; leave it first');
  }
  const shoal: number[] = [];
  const swarm: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    shoal.push(await roundShoal(r));
    console.error(`round ${r + 1}: shoal ${shoal.at(-1)!.toFixed(2)} s`);
    swarm.push(await roundDockerSwarm(r));
    console.error(`round ${r + 1}: docker swarm ${swarm.at(-1)!.toFixed(2)} s`);
  }
  const result = {
    bench: 'converge',
    replicas: REPLICAS,
    rounds: ROUNDS,
    shoal_s: shoal.map((x) => +x.toFixed(3)),
    docker_swarm_s: swarm.map((x) => +x.toFixed(3)),
    median: { shoal_s: +median(shoal).toFixed(3), docker_swarm_s: +median(swarm).toFixed(3) },
    ratio: { shoal_over_docker_swarm: +(median(shoal) / median(swarm)).toFixed(3) },
  };
  console.log(JSON.stringify(result));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
