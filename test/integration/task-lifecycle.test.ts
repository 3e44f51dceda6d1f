/**
 * Task behaviour on a real engine: global services, host-mode ports, health-gated running state,
 * unhealthy replacement, missing images and the restart condition.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { containersOf, ShoalProcess, waitFor } from './support.js';

function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/' }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

describe('task lifecycle on a real engine', { timeout: 600_000 }, () => {
  let shoal: ShoalProcess;

  before(async () => {
    shoal = await ShoalProcess.create('it-tasks');
    await shoal.start();
    shoal.docker(['swarm', 'init']);
    shoal.rememberNodeId();
  });
  after(async () => {
    await shoal.cleanup();
  });

  const ps = (svc: string): string => shoal.docker(['service', 'ps', '--no-trunc', svc]);

  it('runs a global service once on the node', async () => {
    shoal.docker([
      'service',
      'create',
      '-d',
      '--mode',
      'global',
      '--name',
      'agent',
      'shoal-test/busybox:1',
      'sleep',
      '3600',
    ]);
    await waitFor('global task running', () => containersOf('agent').length === 1);
    // The container exists a moment before the agent's "running" report reaches the manager.
    await waitFor('1/1 in service ls', () =>
      /agent\s+global\s+1\/1/.test(shoal.docker(['service', 'ls', '--filter', 'name=agent'])),
    );
    const name = containersOf('agent')[0]!.name;
    assert.match(name, /^agent\.[a-z0-9]{25}\.[a-z0-9]{25}$/, 'global task containers are named service.node.task');
  });

  it('publishes a host-mode port on the node', async () => {
    shoal.docker([
      'service',
      'create',
      '-d',
      '--name',
      'www',
      '--publish',
      'published=18081,target=80,mode=host',
      'shoal-test/busybox:1',
      'httpd',
      '-f',
      '-p',
      '80',
      '-h',
      '/var/www',
    ]);
    const page = await (async () => {
      for (let i = 0; i < 120; i++) {
        try {
          return await httpGet(18081);
        } catch {
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      throw new Error('port 18081 never answered');
    })();
    assert.equal(page.trim(), 'shoal test page');
    assert.match(ps('www'), /\*:18081->80\/tcp/);
  });

  it('counts a task as running only once its healthcheck passes', async () => {
    shoal.docker([
      'service',
      'create',
      '-d',
      '--name',
      'slowhealth',
      '--health-cmd',
      'test -f /tmp/ok',
      '--health-interval',
      '1s',
      '--health-retries',
      '1',
      '--health-start-period',
      '30s',
      'shoal-test/busybox:1',
      'sh',
      '-c',
      'sleep 4; touch /tmp/ok; sleep 3600',
    ]);
    await waitFor('container started', () => containersOf('slowhealth').length === 1);
    assert.match(ps('slowhealth'), /Running\s+Starting /, 'still starting while the check has not passed');
    await waitFor('running once healthy', () => /Running\s+Running /.test(ps('slowhealth')), 60_000);
  });

  it('replaces an unhealthy task', async () => {
    shoal.docker([
      'service',
      'create',
      '-d',
      '--name',
      'sick',
      '--health-cmd',
      'false',
      '--health-interval',
      '1s',
      '--health-retries',
      '1',
      '--restart-delay',
      '1s',
      '--stop-grace-period',
      '1s',
      'shoal-test/busybox:1',
      'sleep',
      '3600',
    ]);
    // The failed task shows with desired state Running for a moment, until the orchestrator shuts it
    // down and starts its replacement: wait for the history line itself.
    const history = /\\_ sick\.1\s+shoal-test\/busybox:1\s+it-tasks\s+Shutdown\s+Failed .*"unhealthy container"/;
    await waitFor('a failed unhealthy task in history', () => history.test(ps('sick')), 90_000);
    // Its replacement is made at once and placed on the node within moments (New, then Pending, then Assigned).
    const replacement = /^\S+\s+sick\.1\s+shoal-test\/busybox:1\s+it-tasks\s+(Running|Ready)\s+/m;
    await waitFor(
      'a replacement task for the slot',
      () => replacement.test(ps('sick')),
      30_000,
      250,
      () => ps('sick'),
    );
  });

  it("rejects a task whose image does not exist, with Docker's message, and keeps retrying", async () => {
    shoal.docker([
      'service',
      'create',
      '-d',
      '--name',
      'noimg',
      '--restart-delay',
      '1s',
      'shoal-test/nope:1',
      'sleep',
      '60',
    ]);
    const out = await waitFor(
      'two rejected attempts',
      () => {
        const o = ps('noimg');
        return (o.match(/Rejected/g) ?? []).length >= 2 ? o : undefined;
      },
      90_000,
    );
    assert.match(out, /Rejected .*"No such image: shoal-test\/nope:1"/);
  });

  it('does not restart a task under restart condition none', async () => {
    shoal.docker(['service', 'create', '-d', '--name', 'once', '--restart-condition', 'none', 'shoal-test/fail:1']);
    await waitFor('the task failed', () => /Shutdown\s+Failed .*"task: non-zero exit \(1\)"/.test(ps('once')));
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(ps('once').trim().split('\n').length, 2, 'one task, no replacement');
    assert.match(shoal.docker(['service', 'ls', '--filter', 'name=once']), /once\s+replicated\s+0\/1/);
  });
});
