import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { silentLogger } from '../common/logging.js';
import { Harness } from '../manager/testing/harness.js';
import { DaemonMetrics, type MetricsSource } from './metrics.js';
import { serveMetrics } from './metrics-server.js';
import { parseMetrics, sampleValue } from './testing/prom-text.js';

let h: Harness;
let dir: string;
beforeEach(async () => {
  h = new Harness();
  await h.start();
  dir = await mkdtemp(path.join(tmpdir(), 'shoal-metrics-'));
});
afterEach(async () => {
  h.stop();
  await rm(dir, { recursive: true, force: true });
});

/** A leader manager over the harness's store, with a Raft member that answers fixed values. */
function leaderSource(): MetricsSource {
  return {
    store: h.store,
    raft: {
      debugState: () => ({ role: 'leader', term: 7, commit: 42, applied: 41, first: 1, last: 42, progress: {} }),
      isLeader: true,
      leader: 'm1',
      members: () => ({ voters: ['m1', 'm2', 'm3'], learners: [] }),
      peers: () => [
        { id: 'm1', match: 42, lastContactMs: 0, reachable: true, learner: false },
        { id: 'm2', match: 42, lastContactMs: 100, reachable: true, learner: false },
        { id: 'm3', match: 10, lastContactMs: 9000, reachable: false, learner: false },
      ],
    },
    manager: { isLeader: true, dispatcher: { sessionCount: 2 } },
  };
}

describe('daemon metrics', () => {
  it('exposes cluster, Raft, dispatcher and agent series that a Prometheus parser accepts', async () => {
    await h.addNode({ hostname: 'n1', role: 'manager' });
    await h.addNode({ hostname: 'n2' });
    await h.addNode({ hostname: 'n3', availability: 'drain', state: 'down' });
    const web = await h.createService({ Name: 'web', Mode: { Replicated: { Replicas: 3 } } });
    await h.createService({ Name: 'agent', Mode: { Global: {} } });
    await h.run(1000);
    await mkdir(path.join(dir, 'wal'));
    await writeFile(path.join(dir, 'wal', 'wal-0000000000000001.log'), Buffer.alloc(1234));
    await writeFile(path.join(dir, 'snapshot-0000000000000010-0000000000000002.snap'), Buffer.alloc(99));

    const m = new DaemonMetrics(leaderSource, dir);
    m.instruments.raft.walSync?.(0.002, 3);
    m.instruments.raft.walSync?.(0.004, 1);
    m.instruments.raft.proposalApplied?.(0.01);
    m.instruments.raft.leaderChanged?.();
    m.instruments.raft.tickLateness?.(0.03);
    m.instruments.agent.containerStarted?.(0.2);
    m.instruments.agent.taskFailed?.('rejected');
    m.instruments.heartbeatLateness(0);
    m.instruments.schedulingDelay(0.05);
    const f = await parseMetrics((await m.scrape()).body);

    assert.equal(sampleValue(f, 'shoal_nodes', { state: 'ready', role: 'manager', availability: 'active' }), 1);
    assert.equal(sampleValue(f, 'shoal_nodes', { state: 'ready', role: 'worker', availability: 'active' }), 1);
    assert.equal(sampleValue(f, 'shoal_nodes', { state: 'down', role: 'worker', availability: 'drain' }), 1);
    assert.equal(sampleValue(f, 'shoal_services', { mode: 'replicated' }), 1);
    assert.equal(sampleValue(f, 'shoal_services', { mode: 'global' }), 1);
    assert.equal(sampleValue(f, 'shoal_service_desired_replicas', { service: 'web' }), 3);
    // 3 replicas + the global service on the two active ready nodes
    assert.equal(sampleValue(f, 'shoal_tasks', { state: 'running' }), h.running(web).length + 2);
    assert.equal(sampleValue(f, 'shoal_tasks', { state: 'failed' }), 0);
    assert.equal(sampleValue(f, 'shoal_raft_term'), 7);
    assert.equal(sampleValue(f, 'shoal_raft_is_leader'), 1);
    assert.equal(sampleValue(f, 'shoal_raft_commit_index'), 42);
    assert.equal(sampleValue(f, 'shoal_raft_applied_index'), 41);
    assert.equal(sampleValue(f, 'shoal_raft_voters'), 3);
    assert.equal(sampleValue(f, 'shoal_raft_peers', { reachable: 'true' }), 2);
    assert.equal(sampleValue(f, 'shoal_raft_peers', { reachable: 'false' }), 1);
    assert.equal(sampleValue(f, 'shoal_raft_wal_bytes'), 1234);
    assert.equal(sampleValue(f, 'shoal_raft_snapshot_bytes'), 99);
    assert.equal(sampleValue(f, 'shoal_raft_leader_changes_total'), 1);
    assert.equal(sampleValue(f, 'shoal_raft_wal_fsync_duration_seconds'), 2);
    assert.equal(f.get('shoal_raft_wal_fsync_entries')?.samples[0]?.sum, 4);
    assert.equal(sampleValue(f, 'shoal_raft_proposal_commit_duration_seconds'), 1);
    assert.equal(sampleValue(f, 'shoal_raft_tick_lateness_seconds'), 1);
    assert.equal(sampleValue(f, 'shoal_dispatcher_sessions'), 2);
    assert.equal(sampleValue(f, 'shoal_dispatcher_heartbeat_lateness_seconds'), 1);
    assert.equal(sampleValue(f, 'shoal_scheduler_delay_seconds'), 1);
    assert.equal(sampleValue(f, 'shoal_agent_container_start_duration_seconds'), 1);
    assert.equal(sampleValue(f, 'shoal_agent_task_failures_total', { state: 'rejected' }), 1);
    assert.equal(sampleValue(f, 'shoal_agent_task_failures_total', { state: 'failed' }), 0);
    assert.equal(f.get('shoal_raft_proposal_commit_duration_seconds')?.type, 'histogram');
    assert.ok(f.has('process_cpu_seconds_total'), 'the process series are there too');
  });

  it('counts pending tasks by reason and services by update state', async () => {
    await h.addNode({ hostname: 'n1' });
    await h.createService({
      Name: 'pinned',
      Mode: { Replicated: { Replicas: 2 } },
      TaskTemplate: { ContainerSpec: { Image: 'img:1' }, Placement: { Constraints: ['node.labels.zone==nowhere'] } },
    });
    const web = await h.createService({ Name: 'web' });
    await h.run(1000);
    await h.updateService(web, (s) => ({ ...s, TaskTemplate: { ContainerSpec: { Image: 'img:2' } } }));
    const f = await parseMetrics((await new DaemonMetrics(leaderSource, dir).scrape()).body);
    const pending = f.get('shoal_scheduler_pending_tasks')?.samples ?? [];
    assert.equal(pending.length, 1, JSON.stringify(pending));
    assert.match(pending[0]!.labels.reason ?? '', /^no suitable node \(.*N node/);
    assert.equal(pending[0]!.value, 2);
    assert.ok(f.has('shoal_service_updates'));
  });

  it('exports no cluster state off a manager, and keeps registries apart', async () => {
    const worker = new DaemonMetrics(() => undefined, dir);
    const other = new DaemonMetrics(leaderSource, dir);
    other.instruments.raft.leaderChanged?.();
    const f = await parseMetrics((await worker.scrape()).body);
    assert.equal(f.get('shoal_tasks')?.samples.length ?? 0, 0);
    // prom-client writes an unlabelled gauge as 0 when nothing is set: a worker is no leader.
    assert.equal(sampleValue(f, 'shoal_raft_is_leader'), 0);
    assert.equal(f.get('shoal_nodes')?.samples.length ?? 0, 0);
    assert.equal(sampleValue(f, 'shoal_raft_leader_changes_total'), 0);
  });

  it('serves GET /metrics and nothing else', async () => {
    const server = await serveMetrics(new DaemonMetrics(leaderSource, dir), '127.0.0.1:0', silentLogger);
    try {
      const base = `http://127.0.0.1:${server.address.port}`;
      const r = await fetch(`${base}/metrics`);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      assert.equal(sampleValue(await parseMetrics(await r.text()), 'shoal_raft_is_leader'), 1);
      assert.equal((await fetch(`${base}/`)).status, 404);
      assert.equal((await fetch(`${base}/metrics`, { method: 'POST' })).status, 405);
    } finally {
      await server.close();
    }
  });
});
