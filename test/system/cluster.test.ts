/**
 * A real multi-host swarm in the lab (3 managers, 2 workers, each its own network namespace, dockerd
 * and shoal daemon), driven by the unmodified docker CLI. One lab serves every scenario, in order;
 * each scenario leaves the cluster whole for the next. Deadlines are generous; the times measured
 * are printed as diagnostics (they belong in notes, not assertions).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ok, ROOT, run, waitFor } from '../integration/support.js';

const NAME = `c${process.pid % 100000}`;
const argv = (args: string[]): string[] => [path.join(ROOT, 'bin/shoal'), 'lab', args[0]!, '--name', NAME, ...args.slice(1)];
const lab = (args: string[], timeoutMs = 300_000): string => ok(process.execPath, argv(args), {}, timeoutMs);
const labRaw = (args: string[], timeoutMs = 120_000) => run(process.execPath, argv(args), {}, timeoutMs);
const on = (host: string, cmd: string[]): string => lab(['exec', host, '--', ...cmd]);
const tryOn = (host: string, cmd: string[], timeoutMs = 60_000) => labRaw(['exec', host, '--', ...cmd], timeoutMs);

const NO_LEADER = "The swarm does not have a leader. It's possible that too few managers are online. Make sure more than half of the managers are online.";
const MANAGERS = ['manager1', 'manager2', 'manager3'];

interface NodeRow {
  id: string;
  host: string;
  status: string;
  availability: string;
  manager: string;
}

function nodes(host: string): NodeRow[] {
  return on(host, ['docker', 'node', 'ls', '--format', '{{.ID}}|{{.Hostname}}|{{.Status}}|{{.Availability}}|{{.ManagerStatus}}'])
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [id, h, status, availability, manager] = l.split('|');
      return { id: id!, host: h!, status: status!, availability: availability!, manager: manager ?? '' };
    });
}

/** The manager that leads, asked of the given managers (the first one that answers). */
function leader(among: string[] = MANAGERS): string {
  for (const m of among) {
    const r = tryOn(m, ['docker', 'node', 'ls', '--format', '{{.Hostname}}|{{.ManagerStatus}}'], 30_000);
    if (r.code !== 0) continue;
    const row = r.stdout.split('\n').find((l) => l.endsWith('|Leader'));
    if (row) return row.split('|')[0]!;
  }
  throw new Error('no manager names a leader');
}

/** Running tasks of a service, by node. */
function runningOn(host: string, service: string): string[] {
  return on(host, ['docker', 'service', 'ps', service, '--format', '{{.Node}}|{{.DesiredState}}|{{.CurrentState}}'])
    .trim()
    .split('\n')
    .filter((l) => /\|Running\|Running/.test(l))
    .map((l) => l.split('|')[0]!);
}

const since = (t0: number): string => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

describe('a multi-host swarm in the lab', { timeout: 1_800_000 }, () => {
  before(() => {
    const out = lab(['up', '--managers', '3', '--workers', '2']);
    assert.match(out, new RegExp(`lab ${NAME} is up: 5 hosts`));
  });
  after(() => {
    if (existsSync(`/run/shoal-lab/${NAME}/state.json`)) labRaw(['down'], 300_000);
  });

  it('shows 5 nodes on every manager, runs 10 replicas spread over them, refuses cluster calls on a worker', async () => {
    for (const m of MANAGERS) {
      const rows = await waitFor(`5 ready nodes on ${m}`, () => {
        const r = nodes(m);
        return r.length === 5 && r.every((n) => n.status === 'Ready') && r;
      });
      assert.deepEqual(rows.map((n) => n.host).sort(), ['manager1', 'manager2', 'manager3', 'worker1', 'worker2']);
      assert.deepEqual(rows.filter((n) => n.manager).map((n) => n.manager).sort(), ['Leader', 'Reachable', 'Reachable']);
    }
    // Created through a follower: the call is forwarded to the leader.
    const follower = MANAGERS.find((m) => m !== leader())!;
    on(follower, ['docker', 'service', 'create', '-d', '--name', 'web', '--replicas', '10', '--restart-delay', '1s', 'shoal-test/busybox:1', 'sleep', '3600']);
    const where = await waitFor('10 running replicas', () => {
      const r = runningOn('manager1', 'web');
      return r.length === 10 && r;
    }, 180_000);
    assert.equal(new Set(where).size, 5, `spread over every node: ${where.join(' ')}`);
    const w = tryOn('worker1', ['docker', 'node', 'ls']);
    assert.notEqual(w.code, 0);
    assert.match(w.stderr, /This node is not a swarm manager\. Worker nodes can't be used to view or modify cluster state\./);
    assert.match(on('worker1', ['docker', 'info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}']), /active false/);
  });

  it('drains a node: its tasks move to the others, and nothing comes back when it is active again', async () => {
    on('manager1', ['docker', 'node', 'update', '--availability', 'drain', 'worker1']);
    const t0 = Date.now();
    await waitFor('no task on the drained worker1, 10 running', () => {
      const r = runningOn('manager1', 'web');
      return r.length === 10 && !r.includes('worker1');
    }, 180_000);
    console.log(`# drained worker1's tasks replaced in ${since(t0)}`);
    assert.match(on('manager1', ['docker', 'node', 'ls', '--filter', 'name=worker1']), /worker1\s+Ready\s+Drain/);
    on('manager1', ['docker', 'node', 'update', '--availability', 'active', 'worker1']);
    assert.match(on('manager1', ['docker', 'node', 'ls', '--filter', 'name=worker1']), /worker1\s+Ready\s+Active/);
  });

  it("stops a worker: it is marked down and its tasks are replaced on other nodes", async () => {
    const before = runningOn('manager1', 'web').filter((n) => n === 'worker2').length;
    assert.ok(before > 0, 'worker2 runs some of the tasks');
    lab(['stop', 'worker2']);
    const t0 = Date.now();
    await waitFor('worker2 down', () => nodes('manager1').find((n) => n.host === 'worker2')?.status === 'Down', 120_000);
    const down = since(t0);
    await waitFor('10 running, none on worker2', () => {
      const r = runningOn('manager1', 'web');
      return r.length === 10 && !r.includes('worker2');
    }, 120_000);
    console.log(`# worker2 powered off: marked down after ${down}, its tasks replaced after ${since(t0)}`);
    lab(['start', 'worker2']);
    await waitFor('worker2 ready again', () => nodes('manager1').find((n) => n.host === 'worker2')?.status === 'Ready', 120_000);
  });

  it('partitions one manager: the majority keeps working, the minority refuses writes, heal restores it', async () => {
    const lead = leader();
    const cut = MANAGERS.find((m) => m !== lead)!;
    lab(['partition', cut]);
    try {
      on(lead, ['docker', 'service', 'update', '-d', '--label-add', 'during=partition', 'web']);
      assert.match(on(lead, ['docker', 'service', 'inspect', '--format', '{{index .Spec.Labels "during"}}', 'web']), /partition/);
      await waitFor(`${cut} shown unreachable`, () => nodes(lead).find((n) => n.host === cut)?.manager === 'Unreachable', 60_000);
      const refused = await waitFor(`${cut} refuses writes`, () => {
        const r = tryOn(cut, ['docker', 'service', 'update', '-d', '--label-add', 'minority=yes', 'web'], 90_000);
        return r.code !== 0 && r;
      }, 120_000);
      assert.ok(refused.stderr.includes(NO_LEADER), refused.stderr);
    } finally {
      lab(['heal']);
    }
    await waitFor(`${cut} reachable again`, () => nodes(lead).find((n) => n.host === cut)?.manager === 'Reachable', 120_000);
    await waitFor(`${cut} serves the API again`, () => tryOn(cut, ['docker', 'service', 'ls'], 30_000).code === 0, 120_000);
    assert.doesNotMatch(on(cut, ['docker', 'service', 'inspect', '--format', '{{json .Spec.Labels}}', 'web']), /minority/);
  });

  it('kills the leader during writes: a new leader, no acknowledged write lost, the service keeps its replicas', async () => {
    const old = leader();
    const survivors = MANAGERS.filter((m) => m !== old);
    const client = survivors[0]!;
    const acked: string[] = [];
    const attempt = (i: number): boolean => {
      const name = `w${i}`;
      const r = tryOn(client, ['docker', 'service', 'create', '-d', '--name', name, '--replicas', '0', 'shoal-test/busybox:1', 'sleep', '1'], 60_000);
      if (r.code === 0) acked.push(name);
      return r.code === 0;
    };
    let i = 0;
    while (acked.length < 5) attempt(i++);
    lab(['stop', old]);
    const t0 = Date.now();
    let firstWrite = '';
    const before = acked.length;
    await waitFor('5 more acknowledged writes', () => {
      if (attempt(i++) && !firstWrite) firstWrite = since(t0);
      return acked.length >= before + 5;
    }, 180_000, 100);
    const lead = leader(survivors);
    assert.ok(survivors.includes(lead), `a survivor leads (${lead})`);
    console.log(`# leader ${old} powered off: first write through ${client} acknowledged after ${firstWrite}; new leader ${lead}`);
    for (const m of survivors) {
      const names = on(m, ['docker', 'service', 'ls', '--format', '{{.Name}}']).split('\n');
      for (const a of acked) assert.ok(names.includes(a), `${a} acknowledged but missing on ${m}`);
    }
    await waitFor('10 running without the old leader', () => {
      const r = runningOn(lead, 'web');
      return r.length === 10 && !r.includes(old);
    }, 180_000);
    console.log(`# tasks of ${old}'s host replaced ${since(t0)} after it went down`);
    lab(['start', old]);
    await waitFor(`${old} back as a reachable manager`, () => nodes(lead).find((n) => n.host === old)?.manager === 'Reachable', 120_000);
  });

  it('refuses a rotated join token; a node that leaves and joins again gets a new node ID', async () => {
    const oldId = nodes('manager1').find((n) => n.host === 'worker2')!.id;
    const oldToken = on('manager1', ['docker', 'swarm', 'join-token', '-q', 'worker']).trim();
    on('worker2', ['docker', 'swarm', 'leave']);
    assert.match(on('worker2', ['docker', 'info', '--format', '{{.Swarm.LocalNodeState}}']), /inactive/);
    on('manager1', ['docker', 'swarm', 'join-token', '--rotate', 'worker']);
    const newToken = on('manager1', ['docker', 'swarm', 'join-token', '-q', 'worker']).trim();
    assert.notEqual(newToken, oldToken);
    const managerIp = /manager1\s+manager\s+(\S+)/.exec(lab(['ls']))![1]!;
    const workerIp = /worker2\s+worker\s+(\S+)/.exec(lab(['ls']))![1]!;
    const refused = tryOn('worker2', ['docker', 'swarm', 'join', '--token', oldToken, '--advertise-addr', workerIp, `${managerIp}:2377`]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /A valid join token is necessary to join this cluster/);
    assert.match(on('worker2', ['docker', 'swarm', 'join', '--token', newToken, '--advertise-addr', workerIp, `${managerIp}:2377`]), /This node joined a swarm as a worker/);
    const rows = await waitFor('worker2 ready with a new ID', () => {
      const r = nodes('manager1').filter((n) => n.host === 'worker2');
      return r.some((n) => n.status === 'Ready' && n.id !== oldId) && r;
    }, 120_000);
    assert.ok(rows.some((n) => n.id === oldId && n.status === 'Down'), 'the old identity stays, down, until it is removed');
    on('manager1', ['docker', 'node', 'rm', oldId]);
  });

  it('refuses a removed node: it never comes back, its tasks are replaced', async () => {
    const id = nodes('manager1').find((n) => n.host === 'worker1')!.id;
    const notDown = tryOn('manager1', ['docker', 'node', 'rm', 'worker1']);
    assert.notEqual(notDown.code, 0);
    assert.match(notDown.stderr, /is not down and can't be removed/);
    on('manager1', ['docker', 'node', 'rm', '--force', 'worker1']);
    await new Promise((r) => setTimeout(r, 8000));
    assert.ok(!nodes('manager1').some((n) => n.id === id), 'the removed node does not come back');
    await waitFor('10 running, none on the removed node', () => {
      const r = runningOn('manager1', 'web');
      return r.length === 10 && !r.includes('worker1');
    }, 180_000);
    // Back in, under a new identity, so the lab is whole again.
    on('worker1', ['docker', 'swarm', 'leave', '--force']);
    const token = on('manager1', ['docker', 'swarm', 'join-token', '-q', 'worker']).trim();
    const managerIp = /manager1\s+manager\s+(\S+)/.exec(lab(['ls']))![1]!;
    const workerIp = /worker1\s+worker\s+(\S+)/.exec(lab(['ls']))![1]!;
    on('worker1', ['docker', 'swarm', 'join', '--token', token, '--advertise-addr', workerIp, `${managerIp}:2377`]);
  });

  it('restarts every host: state and containers come back', async () => {
    const hosts = [...MANAGERS, 'worker1', 'worker2'];
    for (const h of hosts) lab(['stop', h]);
    for (const h of hosts) lab(['start', h]);
    await waitFor('a leader and 5 ready nodes', () => {
      const r = nodes(leader());
      return r.length === 5 && r.every((n) => n.status === 'Ready') && r;
    }, 180_000);
    await waitFor('web back to 10 running', () => runningOn(leader(), 'web').length === 10, 240_000);
    const names = on(leader(), ['docker', 'service', 'ls', '--format', '{{.Name}}']);
    assert.match(names, /\bw0\b/);
  });
});
