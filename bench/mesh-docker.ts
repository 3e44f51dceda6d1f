/**
 * The anchor that cannot be measured: real Docker Swarm's routing mesh on this kernel. Docker's mesh
 * load-balances with IPVS, which this kernel lacks, so a published port refuses connections. This
 * checks it again each run rather than trusting a note: swarm mode on the local engine, one
 * `shoal-test/httpd:1` task publishing 18080, the task asked directly (docker exec) and through the
 * mesh on 127.0.0.1 and the host's address, then the engine leaves swarm mode.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { networkInterfaces } from 'node:os';
import { ENGINE, assertEngineNotInSwarm, docker, sleep, withDockerSwarm } from './common.js';

const PORT = 18080;

export interface DockerMeshCheck {
  ipvsInKernel: boolean;
  taskAnswersDirectly: boolean;
  mesh: Record<string, string>;
  meshAnswers: boolean;
}

function get(host: string): Promise<string> {
  return new Promise((resolve) => {
    const req = http.get({ host, port: PORT, path: '/', agent: false, timeout: 3000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(`HTTP ${res.statusCode}`));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

function hostAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

export async function dockerSwarmMeshAnswers(): Promise<DockerMeshCheck> {
  assertEngineNotInSwarm();
  return withDockerSwarm(async (api) => {
    docker(api, ['service', 'create', '-d', '--name', 'meshcheck', '--publish', `${PORT}:80`, 'shoal-test/httpd:1']);
    try {
      let id = '';
      for (let i = 0; i < 120 && !id; i++) {
        id = docker(ENGINE, ['ps', '-q', '--filter', 'label=com.docker.swarm.service.name=meshcheck']).trim();
        if (!id) await sleep(250);
      }
      let direct = false;
      for (let i = 0; i < 20 && !direct; i++) {
        // busybox's nc, not wget: this static wget crashes with -T inside the container.
        const r = spawnSync(
          'docker',
          ['exec', id, 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc 127.0.0.1 80`],
          {
            env: { ...process.env, DOCKER_HOST: ENGINE },
            encoding: 'utf8',
          },
        );
        direct = r.status === 0 && r.stdout.startsWith('HTTP/1.1 200');
        if (!direct) await sleep(250);
      }
      await sleep(1000); // the mesh's own set-up, after the task runs
      const mesh: Record<string, string> = {};
      for (const h of ['127.0.0.1', hostAddress()].filter((x): x is string => !!x)) mesh[h] = await get(h);
      return {
        ipvsInKernel: existsSync('/proc/net/ip_vs'),
        taskAnswersDirectly: direct,
        mesh,
        meshAnswers: Object.values(mesh).some((v) => v.startsWith('HTTP')),
      };
    } finally {
      docker(api, ['service', 'rm', 'meshcheck'], true);
    }
  });
}
