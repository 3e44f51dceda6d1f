/**
 * `shoal lab` for real: hosts as network namespaces with their own dockerd and shoal daemon; exec,
 * partition and heal, power-off and power-on, and a `lab down` that leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { run, waitFor } from '../integration/support.js';
import { LabClient } from './lab-client.js';

const NAME = `t${process.pid % 100000}`;
const L = new LabClient(NAME);
const { lab, labRaw, on } = L;

function labProcesses(): string[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map((d) => {
      try {
        return readFileSync(`/proc/${d}/cmdline`, 'utf8').replaceAll('\0', ' ');
      } catch {
        return '';
      }
    })
    .filter((c) => c.includes(`/shoal-lab/${NAME}/`));
}

describe('shoal lab', { timeout: 600_000 }, () => {
  before(() => {
    const out = lab(['up', '--managers', '1', '--workers', '1']);
    assert.match(out, new RegExp(`lab ${NAME} is up: 2 hosts`));
  });
  after(() => {
    if (existsSync(`/run/shoal-lab/${NAME}/state.json`)) labRaw(['down']);
  });

  it('runs each host with its own name, engine and shoal daemon, and forms the swarm', () => {
    assert.match(
      lab(['ls']),
      /manager1\s+manager\s+10\.213\.\d+\.11\s+running[\s\S]*worker1\s+worker\s+10\.213\.\d+\.12\s+running/,
    );
    assert.equal(on('worker1', ['hostname']).trim(), 'worker1');
    assert.equal(on('manager1', ['docker', 'info', '--format', '{{.Swarm.LocalNodeState}}']).trim(), 'active');
    assert.match(on('manager1', ['docker', 'node', 'ls']), /manager1\s+Ready\s+Active\s+Leader/);
    assert.match(on('manager1', ['docker', 'node', 'ls']), /worker1\s+Ready\s+Active/);
    assert.match(on('worker1', ['docker', 'images', '--format', '{{.Repository}}:{{.Tag}}']), /shoal-test\/busybox:1/);
  });

  it('partitions a host from the others and heals it', () => {
    const managerIp = /manager1\s+manager\s+(\S+)/.exec(lab(['ls']))![1]!;
    const ping = () => labRaw(['exec', 'worker1', '--', 'busybox', 'ping', '-c1', '-W1', managerIp]).code;
    assert.equal(ping(), 0);
    lab(['partition', 'worker1']);
    assert.notEqual(ping(), 0);
    assert.match(lab(['ls']), /worker1\s+worker\s+\S+\s+partitioned/);
    lab(['heal']);
    assert.equal(ping(), 0);
  });

  it('powers a host off and on: everything of it dies, its services come back', async () => {
    on('manager1', [
      'docker',
      'service',
      'create',
      '-d',
      '--replicas',
      '2',
      '--restart-delay',
      '1s',
      '--name',
      'web',
      'shoal-test/busybox:1',
      'sleep',
      '3600',
    ]);
    await waitFor('2/2', () =>
      on('manager1', ['docker', 'service', 'ls', '--format', '{{.Replicas}}']).includes('2/2'),
    );
    lab(['stop', 'manager1']);
    assert.match(lab(['ls']), /manager1\s+manager\s+\S+\s+stopped/);
    assert.deepEqual(
      labProcesses().filter((c) => c.includes('/manager1/')),
      [],
      'no process of manager1 survives',
    );
    assert.notEqual(labRaw(['exec', 'manager1', '--', 'docker', 'info']).code, 0);
    lab(['start', 'manager1']);
    // The task that died with the host is seen failed once its agent is back, and replaced.
    await waitFor('the killed task failed and replaced', () =>
      /\\_ web\.\d+\s+shoal-test\/busybox:1\s+manager1\s+Shutdown\s+Failed/.test(
        on('manager1', ['docker', 'service', 'ps', 'web']),
      ),
    );
    await waitFor('2/2 after power-on', () =>
      on('manager1', ['docker', 'service', 'ls', '--format', '{{.Replicas}}']).includes('2/2'),
    );
  });

  it('lab down removes every namespace, link, process and file', () => {
    const ls = lab(['ls']);
    lab(['down']);
    assert.deepEqual(labProcesses(), []);
    const netns = run('ip', ['netns', 'list']).stdout;
    const index = /10\.213\.(\d+)\./.exec(ls)![1];
    assert.doesNotMatch(netns, new RegExp(`shl${index}-`));
    assert.doesNotMatch(run('ip', ['link', 'show']).stdout, new RegExp(`slb${index}\\b`));
    assert.ok(!existsSync(`/run/shoal-lab/${NAME}`) && !existsSync(`/var/lib/shoal-lab/${NAME}`));
    assert.doesNotMatch(readFileSync('/proc/mounts', 'utf8'), new RegExp(`shoal-lab/${NAME}/`));
  });
});
