/**
 * A real multi-host swarm in the lab (3 managers, 2 workers, each its own network namespace, dockerd
 * and shoal daemon), driven by the unmodified docker CLI. One lab serves every scenario, in order;
 * each scenario leaves the cluster whole for the next. Deadlines are generous; the times measured
 * are printed as diagnostics (they belong in notes, not assertions).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { signedBy } from '../../src/cluster/node-tls.js';
import { run, waitFor } from '../integration/support.js';
import { LabClient } from './lab-client.js';

const NAME = `c${process.pid % 100000}`;
const L = new LabClient(NAME);
const { lab, labRaw, on, tryOn } = L;

const NO_LEADER =
  "The swarm does not have a leader. It's possible that too few managers are online. Make sure more than half of the managers are online.";
const MANAGERS = ['manager1', 'manager2', 'manager3'];

interface NodeRow {
  id: string;
  host: string;
  status: string;
  availability: string;
  manager: string;
}

function nodes(host: string): NodeRow[] {
  return on(host, [
    'docker',
    'node',
    'ls',
    '--format',
    '{{.ID}}|{{.Hostname}}|{{.Status}}|{{.Availability}}|{{.ManagerStatus}}',
  ])
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [id, h, status, availability, manager] = l.split('|');
      return { id: id!, host: h!, status: status!, availability: availability!, manager: manager ?? '' };
    });
}

/** The nodes as the host sees them, when there are 5 and all are Ready. */
function allReady(host: string): NodeRow[] | false {
  const r = nodes(host);
  return r.length === 5 && r.every((n) => n.status === 'Ready') && r;
}

/** The manager that leads, asked of the given managers (the first one that answers). */
function leader(among: string[] = MANAGERS): string {
  const said: string[] = [];
  for (const m of among) {
    const r = tryOn(m, ['docker', 'node', 'ls', '--format', '{{.Hostname}}|{{.ManagerStatus}}'], 30_000);
    said.push(`${m}: ${r.code === 0 ? r.stdout.trim().replace(/\n/g, ' ') : r.stderr.trim()}`);
    if (r.code !== 0) continue;
    const row = r.stdout.split('\n').find((l) => l.endsWith('|Leader'));
    if (row) return row.split('|')[0]!;
  }
  throw new Error(`no manager names a leader (${said.join('; ')})`);
}

/** Running tasks of a service, by node. */
function runningOn(host: string, service: string): string[] {
  return on(host, ['docker', 'service', 'ps', service, '--format', '{{.Node}}|{{.DesiredState}}|{{.CurrentState}}'])
    .trim()
    .split('\n')
    .filter((l) => /\|Running\|Running/.test(l))
    .map((l) => l.split('|')[0]!);
}

/** The end of a host's shoal daemon log, for a wait that timed out. */

const HOSTS = [...MANAGERS, 'worker1', 'worker2'];

/**
 * What every manager says of the nodes, and the warnings at the end of every host's log: printed when
 * a wait times out, so a failure in CI explains itself.
 */
const labState = (): string => {
  const parts: string[] = [];
  for (const m of MANAGERS) {
    const r = labRaw(
      [
        'exec',
        m,
        '--',
        'docker',
        'node',
        'ls',
        '--format',
        '{{.ID}} {{.Hostname}} {{.Status}} {{.Availability}} {{.ManagerStatus}} {{.TLSStatus}}',
      ],
      30_000,
    );
    parts.push(`--- node ls on ${m} (exit ${r.code}) ---\n${r.stdout}${r.stderr}`);
  }
  for (const h of HOSTS) {
    const r = run('sh', [
      '-c',
      `grep -E ' (WARN|ERROR) |became|rotation|renewed|trusting|joined|promoted|demoted' /var/lib/shoal-lab/${NAME}/${h}/shoal.log | tail -n 25`,
    ]);
    parts.push(`--- ${h}/shoal.log (warnings and changes, last 25) ---\n${r.stdout}`);
  }
  return parts.join('\n');
};

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
      const rows = await waitFor(
        `5 ready nodes and 3 reachable managers on ${m}`,
        () => {
          const r = allReady(m);
          return (
            r &&
            r
              .filter((n) => n.manager)
              .map((n) => n.manager)
              .sort()
              .join() === 'Leader,Reachable,Reachable' &&
            r
          );
        },
        120_000,
        1000,
        labState,
      );
      assert.deepEqual(rows.map((n) => n.host).sort(), ['manager1', 'manager2', 'manager3', 'worker1', 'worker2']);
      assert.deepEqual(
        rows
          .filter((n) => n.manager)
          .map((n) => n.manager)
          .sort(),
        ['Leader', 'Reachable', 'Reachable'],
      );
    }
    // Created through a follower: the call is forwarded to the leader.
    const follower = MANAGERS.find((m) => m !== leader())!;
    on(follower, [
      'docker',
      'service',
      'create',
      '-d',
      '--name',
      'web',
      '--replicas',
      '10',
      '--restart-delay',
      '1s',
      'shoal-test/busybox:1',
      'sleep',
      '3600',
    ]);
    const where = await waitFor(
      '10 running replicas',
      () => {
        const r = runningOn('manager1', 'web');
        return r.length === 10 && r;
      },
      180_000,
      1000,
      labState,
    );
    if (new Set(where).size !== 5) {
      const ps = tryOn(follower, [
        'docker',
        'service',
        'ps',
        '--no-trunc',
        '--format',
        '{{.Node}} {{.CurrentState}} {{.Error}}',
        'web',
      ]);
      assert.fail(`not spread over every node: ${where.join(' ')}\n${ps.stdout}${ps.stderr}\n${labState()}`);
    }
    // Logs of tasks on every host, gathered by the leader through a follower.
    on(follower, [
      'docker',
      'service',
      'create',
      '-d',
      '--mode',
      'global',
      '--name',
      'talk',
      'shoal-test/busybox:1',
      'sh',
      '-c',
      'echo hello; sleep 3600',
    ]);
    const logs = await waitFor(
      'a line from every host',
      () => {
        const out = on(follower, ['docker', 'service', 'logs', 'talk']);
        return (
          ['manager1', 'manager2', 'manager3', 'worker1', 'worker2'].every((h) =>
            new RegExp(`@${h}\\s+\\| hello`).test(out),
          ) && out
        );
      },
      120_000,
      1000,
      labState,
    );
    assert.ok(logs);
    on(follower, ['docker', 'service', 'rm', 'talk']);
    const w = tryOn('worker1', ['docker', 'node', 'ls']);
    assert.notEqual(w.code, 0);
    assert.match(
      w.stderr,
      /This node is not a swarm manager\. Worker nodes can't be used to view or modify cluster state\./,
    );
    assert.match(
      on('worker1', ['docker', 'info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}']),
      /active false/,
    );
  });

  it('drains a node: its tasks move to the others, and nothing comes back when it is active again', async () => {
    on('manager1', ['docker', 'node', 'update', '--availability', 'drain', 'worker1']);
    const t0 = Date.now();
    await waitFor(
      'no task on the drained worker1, 10 running',
      () => {
        const r = runningOn('manager1', 'web');
        return r.length === 10 && !r.includes('worker1');
      },
      180_000,
      1000,
      labState,
    );
    console.log(`# drained worker1's tasks replaced in ${since(t0)}`);
    assert.match(on('manager1', ['docker', 'node', 'ls', '--filter', 'name=worker1']), /worker1\s+Ready\s+Drain/);
    on('manager1', ['docker', 'node', 'update', '--availability', 'active', 'worker1']);
    assert.match(on('manager1', ['docker', 'node', 'ls', '--filter', 'name=worker1']), /worker1\s+Ready\s+Active/);
  });

  it('stops a worker: it is marked down and its tasks are replaced on other nodes', async () => {
    const before = runningOn('manager1', 'web').filter((n) => n === 'worker2').length;
    assert.ok(before > 0, 'worker2 runs some of the tasks');
    lab(['stop', 'worker2']);
    const t0 = Date.now();
    // Logs of a service with tasks on a dead node end, with a line saying so, instead of hanging (moby#33183).
    const logs = tryOn('manager1', ['docker', 'service', 'logs', 'web'], 60_000);
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout + logs.stderr, /@worker2\s+\| error from (node|task) \w+: .*(not reachable|went away)/);
    await waitFor(
      'worker2 down',
      () => nodes('manager1').find((n) => n.host === 'worker2')?.status === 'Down',
      120_000,
      1000,
      labState,
    );
    const down = since(t0);
    await waitFor(
      '10 running, none on worker2',
      () => {
        const r = runningOn('manager1', 'web');
        return r.length === 10 && !r.includes('worker2');
      },
      120_000,
      1000,
      labState,
    );
    console.log(`# worker2 powered off: marked down after ${down}, its tasks replaced after ${since(t0)}`);
    lab(['start', 'worker2']);
    await waitFor(
      'worker2 ready again',
      () => nodes('manager1').find((n) => n.host === 'worker2')?.status === 'Ready',
      120_000,
      1000,
      labState,
    );
  });

  it('partitions one manager: the majority keeps working, the minority refuses writes, heal restores it', async () => {
    const lead = leader();
    const cut = MANAGERS.find((m) => m !== lead)!;
    lab(['partition', cut]);
    try {
      on(lead, ['docker', 'service', 'update', '-d', '--label-add', 'during=partition', 'web']);
      assert.match(
        on(lead, ['docker', 'service', 'inspect', '--format', '{{index .Spec.Labels "during"}}', 'web']),
        /partition/,
      );
      await waitFor(
        `${cut} shown unreachable`,
        () => nodes(lead).find((n) => n.host === cut)?.manager === 'Unreachable',
        60_000,
        1000,
        labState,
      );
      const refused = await waitFor(
        `${cut} refuses writes`,
        () => {
          const r = tryOn(cut, ['docker', 'service', 'update', '-d', '--label-add', 'minority=yes', 'web'], 90_000);
          return r.code !== 0 && r;
        },
        120_000,
        1000,
        labState,
      );
      assert.ok(refused.stderr.includes(NO_LEADER), refused.stderr);
    } finally {
      lab(['heal']);
    }
    await waitFor(
      `${cut} reachable again`,
      () => nodes(lead).find((n) => n.host === cut)?.manager === 'Reachable',
      120_000,
      1000,
      labState,
    );
    await waitFor(
      `${cut} serves the API again`,
      () => tryOn(cut, ['docker', 'service', 'ls'], 30_000).code === 0,
      120_000,
      1000,
      labState,
    );
    assert.doesNotMatch(
      on(cut, ['docker', 'service', 'inspect', '--format', '{{json .Spec.Labels}}', 'web']),
      /minority/,
    );
  });

  it('kills the leader during writes: a new leader, no acknowledged write lost, the service keeps its replicas', async () => {
    const old = leader();
    const survivors = MANAGERS.filter((m) => m !== old);
    const client = survivors[0]!;
    const acked: string[] = [];
    const attempt = (i: number): boolean => {
      const name = `w${i}`;
      const r = tryOn(
        client,
        ['docker', 'service', 'create', '-d', '--name', name, '--replicas', '0', 'shoal-test/busybox:1', 'sleep', '1'],
        60_000,
      );
      if (r.code === 0) acked.push(name);
      return r.code === 0;
    };
    let i = 0;
    while (acked.length < 5) attempt(i++);
    const workerContainers = (): string[] =>
      on('worker1', ['docker', 'ps', '-q', '--filter', 'label=com.docker.swarm.service.name=web'])
        .trim()
        .split('\n')
        .filter(Boolean);
    const kept = workerContainers();
    lab(['stop', old]);
    try {
      const t0 = Date.now();
      let firstWrite = '';
      const before = acked.length;
      await waitFor(
        '5 more acknowledged writes',
        () => {
          if (attempt(i++) && !firstWrite) firstWrite = since(t0);
          return acked.length >= before + 5;
        },
        180_000,
        100,
        labState,
      );
      const lead = leader(survivors);
      assert.ok(survivors.includes(lead), `a survivor leads (${lead})`);
      // The workers' containers kept running through the leader's loss.
      const now = workerContainers();
      for (const c of kept) assert.ok(now.includes(c), `worker1's container ${c} kept running`);
      console.log(
        `# leader ${old} powered off: first write through ${client} acknowledged after ${firstWrite}; new leader ${lead}`,
      );
      for (const m of survivors) {
        const names = on(m, ['docker', 'service', 'ls', '--format', '{{.Name}}']).split('\n');
        for (const a of acked) assert.ok(names.includes(a), `${a} acknowledged but missing on ${m}`);
      }
      await waitFor(
        '10 running without the old leader',
        () => {
          const r = runningOn(lead, 'web');
          return r.length === 10 && !r.includes(old);
        },
        180_000,
        1000,
        labState,
      );
      console.log(`# tasks of ${old}'s host replaced ${since(t0)} after it went down`);
    } finally {
      // Back on even when a check failed, so the scenarios after this one find the lab whole.
      lab(['start', old]);
    }
    await waitFor(
      `${old} back as a reachable manager`,
      () => nodes(leader(survivors)).find((n) => n.host === old)?.manager === 'Reachable',
      120_000,
      1000,
      labState,
    );
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
    const refused = tryOn('worker2', [
      'docker',
      'swarm',
      'join',
      '--token',
      oldToken,
      '--advertise-addr',
      workerIp,
      `${managerIp}:2377`,
    ]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /A valid join token is necessary to join this cluster/);
    assert.match(
      on('worker2', [
        'docker',
        'swarm',
        'join',
        '--token',
        newToken,
        '--advertise-addr',
        workerIp,
        `${managerIp}:2377`,
      ]),
      /This node joined a swarm as a worker/,
    );
    const rows = await waitFor(
      'worker2 ready with a new ID',
      () => {
        const r = nodes('manager1').filter((n) => n.host === 'worker2');
        return r.some((n) => n.status === 'Ready' && n.id !== oldId) && r;
      },
      120_000,
      1000,
      labState,
    );
    assert.ok(
      rows.some((n) => n.id === oldId && n.status === 'Down'),
      'the old identity stays, down, until it is removed',
    );
    on('manager1', ['docker', 'node', 'rm', oldId]);
  });

  it('refuses a removed node: it never comes back, its tasks are replaced', async () => {
    const id = nodes('manager1').find((n) => n.host === 'worker1')!.id;
    const notDown = tryOn('manager1', ['docker', 'node', 'rm', 'worker1']);
    assert.notEqual(notDown.code, 0);
    assert.match(notDown.stderr, /is not down and can't be removed/);
    on('manager1', ['docker', 'node', 'rm', '--force', 'worker1']);
    try {
      await new Promise((r) => setTimeout(r, 8000));
      assert.ok(!nodes('manager1').some((n) => n.id === id), 'the removed node does not come back');
      await waitFor(
        '10 running, none on the removed node',
        () => {
          const r = runningOn('manager1', 'web');
          return r.length === 10 && !r.includes('worker1');
        },
        180_000,
        1000,
        labState,
      );
    } finally {
      // Back in, under a new identity, so the lab is whole again.
      on('worker1', ['docker', 'swarm', 'leave', '--force']);
      const token = on('manager1', ['docker', 'swarm', 'join-token', '-q', 'worker']).trim();
      const managerIp = /manager1\s+manager\s+(\S+)/.exec(lab(['ls']))![1]!;
      const workerIp = /worker1\s+worker\s+(\S+)/.exec(lab(['ls']))![1]!;
      on('worker1', ['docker', 'swarm', 'join', '--token', token, '--advertise-addr', workerIp, `${managerIp}:2377`]);
    }
  });

  it('promotes a worker and demotes the leader (leadership moves first)', async () => {
    assert.match(
      on('manager1', ['docker', 'node', 'promote', 'worker1']),
      /Node worker1 promoted to a manager in the swarm/,
    );
    await waitFor(
      'worker1 a reachable manager',
      () => nodes('manager1').find((n) => n.host === 'worker1')?.manager === 'Reachable',
      120_000,
      1000,
      labState,
    );
    await waitFor(
      'worker1 serves the control API',
      () => tryOn('worker1', ['docker', 'node', 'ls'], 30_000).code === 0,
      120_000,
      1000,
      labState,
    );
    const lead = leader();
    const other = MANAGERS.find((m) => m !== lead)!;
    assert.match(on(other, ['docker', 'node', 'demote', lead]), new RegExp(`Manager ${lead} demoted in the swarm`));
    const t0 = Date.now();
    await waitFor(
      `${lead} no longer a manager`,
      () => {
        const r = nodes(other).find((n) => n.host === lead);
        return r?.manager === '' && leader([other]) !== lead;
      },
      120_000,
      1000,
      labState,
    );
    await waitFor(
      `${lead} refuses cluster calls as a worker`,
      () => /Worker nodes can't be used/.test(tryOn(lead, ['docker', 'node', 'ls'], 30_000).stderr),
      120_000,
      1000,
      labState,
    );
    console.log(`# demoted leader ${lead}: a new leader and ${lead} a worker after ${since(t0)}`);
    // Back as it was, so the managers are manager1-3 again.
    on(other, ['docker', 'node', 'promote', lead]);
    on(other, ['docker', 'node', 'demote', 'worker1']);
    await waitFor(
      'managers 1-3 again',
      () => {
        const r = nodes(other);
        return (
          r
            .filter((n) => n.manager === 'Leader' || n.manager === 'Reachable')
            .map((n) => n.host)
            .sort()
            .join() === MANAGERS.join()
        );
      },
      180_000,
      1000,
      labState,
    );
  });

  it('autolock: a restarted manager stays locked until it is given the unlock key', async () => {
    on('manager1', ['docker', 'swarm', 'update', '--autolock=true']);
    const key = on('manager1', ['docker', 'swarm', 'unlock-key', '-q']).trim();
    assert.match(key, /^SWMKEY-1-[A-Za-z0-9+/]{43}$/);
    const m = MANAGERS.find((x) => x !== leader())!;
    // Every manager wraps its key material with the key once the update reaches it.
    await waitFor(
      `${m}'s keys wrapped`,
      () =>
        run('grep', ['-c', 'ENCRYPTED', `/var/lib/shoal-lab/${NAME}/${m}/shoal/certificates/swarm-node.key`]).code ===
        0,
      60_000,
      1000,
      labState,
    );
    lab(['stop', m]);
    lab(['start', m]);
    await waitFor(
      `${m} locked`,
      () => tryOn(m, ['docker', 'info', '--format', '{{.Swarm.LocalNodeState}}'], 30_000).stdout.trim() === 'locked',
      60_000,
      1000,
      labState,
    );
    const refused = tryOn(m, ['docker', 'node', 'ls']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /Swarm is encrypted and needs to be unlocked before it can be used/);
    const wrong = tryOn(m, ['sh', '-c', `echo SWMKEY-1-${'A'.repeat(43)} | docker swarm unlock`]);
    assert.match(wrong.stderr, /invalid key/);
    on(m, ['sh', '-c', `echo ${key} | docker swarm unlock`]);
    assert.equal(on(m, ['docker', 'info', '--format', '{{.Swarm.LocalNodeState}}']).trim(), 'active');
    await waitFor(
      `${m} serves the API after unlocking`,
      () => tryOn(m, ['docker', 'node', 'ls'], 30_000).code === 0,
      60_000,
      1000,
      labState,
    );
    on('manager1', ['docker', 'swarm', 'update', '--autolock=false']);
    assert.match(tryOn('manager1', ['docker', 'swarm', 'unlock-key', '-q']).stderr, /no unlock key is set/);
    await waitFor(
      `${m}'s keys unwrapped`,
      () =>
        run('grep', ['-c', 'ENCRYPTED', `/var/lib/shoal-lab/${NAME}/${m}/shoal/certificates/swarm-node.key`]).code !==
        0,
      60_000,
      1000,
      labState,
    );
  });

  it('rotates the root CA on every host: nodes move to the new root without losing their connections', async () => {
    // A node that is down while the root changes must rejoin afterwards (as in Docker): start whole.
    await waitFor('5 ready nodes before the rotation', () => allReady(leader()), 120_000, 1000, labState);
    const m = leader();
    const before = on(m, ['docker', 'swarm', 'ca']).trim();
    const t0 = Date.now();
    // Not detached: the docker CLI follows the rotation until all 5 nodes converged.
    const rotate = labRaw(['exec', m, '--', 'docker', 'swarm', 'ca', '--rotate'], 300_000);
    if (rotate.code !== 0)
      assert.fail(
        `swarm ca --rotate exited ${rotate.code}: ${rotate.stderr}\nlast output: ${rotate.stdout.slice(-600)}\n${labState()}`,
      );
    const out = rotate.stdout;
    console.log(`# root CA rotation over 5 nodes converged in ${since(t0)}`);
    const root = on(m, ['docker', 'swarm', 'ca']).trim();
    assert.notEqual(root, before);
    assert.ok(out.includes(root), 'the command prints the new root');
    const trust = on(m, ['docker', 'node', 'ls', '-q'])
      .trim()
      .split('\n')
      .map((id) => on(m, ['docker', 'node', 'inspect', id, '--format', '{{.Description.TLSInfo.TrustRoot}}']).trim());
    assert.equal(trust.length, 5);
    for (const t of trust) assert.equal(t, root, 'every node trusts only the new root');
    for (const host of ['worker1', ...MANAGERS.filter((x) => x !== m)]) {
      const file = `/var/lib/shoal-lab/${NAME}/${host}/shoal/certificates/swarm-node.crt`;
      assert.ok(signedBy(readFileSync(file, 'utf8'), root), `${host}'s certificate comes from the new root`);
    }
    // Every link still works with the new certificates: a change reaches tasks on every host.
    on(m, ['docker', 'service', 'update', '-d', '--update-parallelism', '0', '--env-add', 'ROTATED=1', 'web']);
    await waitFor(
      'web updated everywhere after the rotation',
      () => {
        const hosts = new Set(runningOn(m, 'web'));
        const state = on(m, [
          'docker',
          'service',
          'inspect',
          '--format',
          '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}',
          'web',
        ]).trim();
        return state === 'completed' && runningOn(m, 'web').length === 10 && hosts.size === 5;
      },
      300_000,
      1000,
      labState,
    );
  });

  it('restarts every host: state and containers come back', async () => {
    for (const h of HOSTS) lab(['stop', h]);
    for (const h of HOSTS) lab(['start', h]);
    await waitFor('a leader and 5 ready nodes', () => allReady(leader()), 180_000, 1000, labState);
    await waitFor('web back to 10 running', () => runningOn(leader(), 'web').length === 10, 240_000, 1000, labState);
    const names = on(leader(), ['docker', 'service', 'ls', '--format', '{{.Name}}']);
    assert.match(names, /\bw0\b/);
  });

  it('recovers a swarm that lost its quorum with swarm init --force-new-cluster', async () => {
    const lead = leader();
    const [keep, ...lost] = [lead, ...MANAGERS.filter((m) => m !== lead)];
    for (const m of lost) lab(['stop', m]);
    const refused = await waitFor(
      'no leader without a quorum',
      () => {
        const r = tryOn(keep!, ['docker', 'node', 'ls'], 60_000);
        return r.code !== 0 && r.stderr.includes(NO_LEADER) && r;
      },
      120_000,
      1000,
      labState,
    );
    assert.ok(refused);
    assert.match(
      on(keep!, ['docker', 'swarm', 'init', '--force-new-cluster']),
      /Swarm initialized: current node \(\w+\) is now a manager/,
    );
    const rows = nodes(keep!);
    assert.equal(rows.find((n) => n.host === keep)?.manager, 'Leader');
    for (const m of lost) assert.equal(rows.find((n) => n.host === m)?.manager, '', `${m} is no longer a manager`);
    assert.match(on(keep!, ['docker', 'service', 'ls', '--format', '{{.Name}}']), /\bweb\b/);
    for (const m of lost) lab(['start', m]);
    for (const m of lost) {
      await waitFor(
        `${m} back as a worker`,
        () =>
          on(m, ['docker', 'info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}']).includes(
            'active false',
          ),
        120_000,
        500,
        labState,
      );
    }
  });
});
