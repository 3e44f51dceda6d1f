/**
 * `shoal daemon --metrics-addr`: a real daemon's /metrics, read by a Prometheus text-format parser,
 * follows a scripted scenario (swarm init, a service of 2 replicas, scale to 3, remove).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { parseMetrics, sampleValue, type PromFamily } from '../../src/daemon/testing/prom-text.js';
import { ShoalProcess } from './support.js';

const LISTEN = '127.0.0.1:4446';
const METRICS = '127.0.0.1:4447';

let daemonLog = (): string => '';

/**
 * One scrape on a fresh connection: the docker CLI runs through spawnSync, which blocks this event
 * loop, so a kept-alive socket the daemon closed meanwhile would be reused before its close is seen.
 */
async function scrape(): Promise<Map<string, PromFamily>> {
  const body = await new Promise<string>((resolve, reject) => {
    http
      .get(`http://${METRICS}/metrics`, { agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`HTTP ${res.statusCode}`))));
      })
      .on('error', reject);
  }).catch((e: unknown) => {
    throw new Error(`scraping failed: ${String(e)}\ndaemon log (tail):\n${daemonLog()}`);
  });
  return await parseMetrics(body);
}

/** Scrapes until `check` holds (the store moves a moment after the CLI returns). */
async function until(
  what: string,
  check: (f: Map<string, PromFamily>) => boolean,
  timeoutMs = 60_000,
): Promise<Map<string, PromFamily>> {
  const deadline = Date.now() + timeoutMs;
  let f = await scrape();
  while (!check(f)) {
    if (Date.now() > deadline) {
      const tasks = f.get('shoal_tasks')?.samples.map((m) => `${m.labels.state}=${m.value}`);
      throw new Error(`timed out waiting for ${what}; shoal_tasks: ${tasks?.join(' ')}`);
    }
    await new Promise((r) => setTimeout(r, 200));
    f = await scrape();
  }
  return f;
}

describe('metrics of a real daemon', { timeout: 300_000 }, () => {
  let shoal: ShoalProcess;

  before(async () => {
    shoal = await ShoalProcess.create('it-metrics');
    daemonLog = () => shoal.log.split('\n').slice(-40).join('\n');
    shoal.extraArgs = ['--listen-addr', LISTEN, '--metrics-addr', METRICS];
    await shoal.start();
  });
  after(async () => {
    shoal.dockerRaw(['service', 'rm', 'metrics-web']);
    await shoal.cleanup();
  });

  it('serves /metrics before the node is in a swarm, without cluster state', async () => {
    const f = await scrape();
    assert.equal(sampleValue(f, 'shoal_raft_is_leader'), 0);
    assert.equal(f.get('shoal_tasks')?.samples.length ?? 0, 0);
    assert.ok(f.has('process_resident_memory_bytes'));
  });

  it('follows swarm init, a service of 2 replicas, a scale to 3 and its removal', async () => {
    shoal.docker(['swarm', 'init', '--listen-addr', LISTEN, '--advertise-addr', '127.0.0.1']);
    shoal.rememberNodeId();
    let f = await until('a leader', (m) => sampleValue(m, 'shoal_raft_is_leader') === 1);
    assert.equal(sampleValue(f, 'shoal_nodes', { state: 'ready', role: 'manager', availability: 'active' }), 1);
    assert.ok(sampleValue(f, 'shoal_raft_term')! >= 1);

    shoal.docker([
      'service',
      'create',
      '--replicas',
      '2',
      '--name',
      'metrics-web',
      'shoal-test/busybox:1',
      'sleep',
      '3600',
    ]);
    f = await until('2 running tasks', (m) => sampleValue(m, 'shoal_tasks', { state: 'running' }) === 2);
    assert.equal(sampleValue(f, 'shoal_services', { mode: 'replicated' }), 1);
    assert.equal(sampleValue(f, 'shoal_service_desired_replicas', { service: 'metrics-web' }), 2);
    assert.equal(sampleValue(f, 'shoal_raft_is_leader'), 1);
    assert.equal(sampleValue(f, 'shoal_dispatcher_sessions'), 1);
    assert.ok(sampleValue(f, 'shoal_raft_proposal_commit_duration_seconds')! > 0, 'proposal latencies recorded');
    assert.ok(sampleValue(f, 'shoal_raft_wal_fsync_duration_seconds')! > 0, 'fsyncs recorded');
    assert.ok(sampleValue(f, 'shoal_raft_wal_bytes')! > 0);
    assert.ok(sampleValue(f, 'shoal_raft_commit_index')! >= sampleValue(f, 'shoal_raft_applied_index')!);
    assert.ok(sampleValue(f, 'shoal_raft_applied_index')! > 0);
    assert.equal(sampleValue(f, 'shoal_raft_peers', { reachable: 'true' }), 1);
    assert.ok(sampleValue(f, 'shoal_agent_container_start_duration_seconds')! >= 2);
    assert.equal(sampleValue(f, 'shoal_scheduler_delay_seconds'), 2, 'both tasks scheduled once');
    assert.ok(sampleValue(f, 'shoal_raft_tick_lateness_seconds')! > 0, 'ticks measured');
    const proposals = sampleValue(f, 'shoal_raft_proposal_commit_duration_seconds')!;

    shoal.docker(['service', 'scale', 'metrics-web=3']);
    f = await until('3 running tasks', (m) => sampleValue(m, 'shoal_tasks', { state: 'running' }) === 3);
    assert.equal(sampleValue(f, 'shoal_service_desired_replicas', { service: 'metrics-web' }), 3);
    assert.ok(sampleValue(f, 'shoal_agent_container_start_duration_seconds')! >= 3);
    assert.ok(sampleValue(f, 'shoal_raft_proposal_commit_duration_seconds')! > proposals);

    shoal.docker(['service', 'rm', 'metrics-web']);
    f = await until(
      'the service and its tasks gone',
      (m) =>
        sampleValue(m, 'shoal_services', { mode: 'replicated' }) === 0 &&
        sampleValue(m, 'shoal_tasks', { state: 'running' }) === 0,
    );
    assert.equal(sampleValue(f, 'shoal_agent_task_failures_total', { state: 'failed' }), 0);
  });
});
