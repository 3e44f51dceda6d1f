/**
 * shoal driven by a real client library (dockerode), the way client programs drive a swarm:
 * inspect-then-update loops with `?version=` that must never meet `update out of sequence` without
 * a real concurrent change, bodies in other key cases, Python-style query booleans.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import Docker from 'dockerode';
import { ShoalProcess, waitFor } from './support.js';

const SERVICE = 'dockerode-web';

function get(socketPath: string, url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ socketPath, path: url }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('dockerode against shoal', { timeout: 300_000 }, () => {
  let shoal: ShoalProcess;
  let docker: Docker;

  before(async () => {
    shoal = await ShoalProcess.create('dockerode-node');
    await shoal.start();
    docker = new Docker({ socketPath: shoal.socket });
  });

  after(async () => {
    await docker?.swarmLeave({ force: true }).catch(() => undefined);
    await shoal?.cleanup();
  });

  it('initialises a swarm; the node and the cluster do not change by themselves afterwards', async () => {
    const id = (await docker.swarmInit({
      ListenAddr: '127.0.0.1:23772',
      AdvertiseAddr: '127.0.0.1',
    })) as unknown as string;
    assert.match(String(id), /^[a-z0-9]{25}$/);
    shoal.rememberNodeId();
    const node = (await docker.getNode(String(id)).inspect()) as {
      Version: { Index: number };
      Description: { TLSInfo?: { TrustRoot?: string } };
    };
    assert.ok(node.Description.TLSInfo?.TrustRoot, 'TLSInfo is filled in before init returns');
    const swarm = (await docker.swarmInspect()) as { Version: { Index: number } };
    await sleep(1500);
    assert.equal(
      ((await docker.getNode(String(id)).inspect()) as { Version: { Index: number } }).Version.Index,
      node.Version.Index,
      'the node version did not move',
    );
    assert.equal(
      ((await docker.swarmInspect()) as { Version: { Index: number } }).Version.Index,
      swarm.Version.Index,
      'the cluster version did not move',
    );
  });

  it('updates the swarm in an inspect-then-update loop without a conflict', async () => {
    for (let i = 0; i < 5; i++) {
      const s = (await docker.swarmInspect()) as { Version: { Index: number }; Spec: Record<string, unknown> };
      await sleep(100);
      await docker.swarmUpdate({ version: s.Version.Index, ...s.Spec, Labels: { round: String(i) } } as never);
    }
    const s = (await docker.swarmInspect()) as { Spec: { Labels: Record<string, string> } };
    assert.deepEqual(s.Spec.Labels, { round: '4' });
  });

  it('lists and updates nodes in an inspect-then-update loop', async () => {
    const nodes = (await docker.listNodes()) as { ID: string }[];
    assert.equal(nodes.length, 1);
    const node = docker.getNode(nodes[0]!.ID);
    for (let i = 0; i < 5; i++) {
      const n = (await node.inspect()) as { Version: { Index: number }; Spec: Record<string, unknown> };
      await sleep(100);
      await node.update({ version: n.Version.Index, ...n.Spec, Labels: { round: String(i) } });
    }
    assert.deepEqual(((await node.inspect()) as { Spec: { Labels: Record<string, string> } }).Spec.Labels, {
      round: '4',
    });
  });

  it('creates a service from a body in other key cases, and answers with the canonical names', async () => {
    const created = (await docker.createService({
      Name: SERVICE,
      TaskTemplate: {
        ContainerSpec: {
          Image: 'shoal-test/busybox:1',
          Command: ['sh', '-c', 'echo hello from $(hostname); trap "exit 0" TERM; while true; do sleep 1; done'],
        },
      },
      // As a popular client sends it: lower-case mode keys, a lower-case rollback order.
      Mode: { replicated: { Replicas: 2 } },
      RollbackConfig: { order: 'start-first' },
    } as never)) as { id?: string; ID?: string };
    const id = created.id ?? created.ID ?? '';
    const s = (await docker.getService(id).inspect()) as { Spec: { Mode: unknown; RollbackConfig: unknown } };
    assert.deepEqual(s.Spec.Mode, { Replicated: { Replicas: 2 } });
    // Swarmkit's enums always hold a value: the failure action shows its default, as with docker.
    assert.deepEqual(s.Spec.RollbackConfig, { Order: 'start-first', FailureAction: 'pause' });
    await waitFor(
      '2 running tasks',
      () =>
        shoal.docker(['service', 'ls', '--filter', `name=${SERVICE}`, '--format', '{{.Replicas}}']).trim() === '2/2',
      60_000,
      500,
      shoal.explain(SERVICE),
    );
  });

  it("reads Python's True as true (?insertDefaults=True)", async () => {
    const a = await get(shoal.socket, `/v1.41/services/${SERVICE}?insertDefaults=True`);
    assert.equal(a.status, 200, a.body);
    const spec = (JSON.parse(a.body) as { Spec: { UpdateConfig?: unknown; TaskTemplate: { RestartPolicy?: unknown } } })
      .Spec;
    assert.ok(spec.UpdateConfig && spec.TaskTemplate.RestartPolicy, 'defaults inserted');
    const bad = await get(shoal.socket, `/v1.41/services/${SERVICE}?insertDefaults=yes`);
    assert.equal(bad.status, 400);
  });

  it('updates and scales the service in an inspect-then-update loop without a conflict', async () => {
    const service = docker.getService(SERVICE);
    for (let i = 0; i < 6; i++) {
      const s = (await service.inspect()) as {
        Version: { Index: number };
        Spec: { Mode: { Replicated: { Replicas: number } }; Labels?: Record<string, string> };
      };
      await sleep(200);
      const spec = { ...s.Spec, Labels: { round: String(i) }, Mode: { Replicated: { Replicas: 2 + (i % 2) } } };
      await service.update({ version: s.Version.Index, ...spec } as never);
    }
    await waitFor(
      '3 running tasks',
      () =>
        shoal.docker(['service', 'ls', '--filter', `name=${SERVICE}`, '--format', '{{.Replicas}}']).trim() === '3/3',
      60_000,
      500,
      shoal.explain(SERVICE),
    );
    const tasks = (await docker.listTasks({
      filters: { service: [SERVICE], 'desired-state': ['running'] },
    })) as unknown[];
    assert.equal(tasks.length, 3);
  });

  it("reads the service's logs", async () => {
    const raw = (await docker
      .getService(SERVICE)
      .logs({ stdout: true, stderr: true, follow: false } as never)) as unknown as Buffer;
    assert.match(raw.toString('utf8'), /hello from/);
  });

  it('rolls the service back to its previous spec', async () => {
    const service = docker.getService(SERVICE);
    const s = (await service.inspect()) as { Version: { Index: number }; Spec: { Labels?: Record<string, string> } };
    await service.update({ version: s.Version.Index, ...s.Spec, rollback: 'previous' } as never);
    const after = (await service.inspect()) as {
      Spec: { Labels?: Record<string, string> };
      UpdateStatus?: { State: string };
    };
    assert.deepEqual(after.Spec.Labels, { round: '4' }, 'the spec before the last update');
  });

  it('runs a replicated job to completion', async () => {
    await docker.createService({
      Name: 'dockerode-job',
      TaskTemplate: {
        ContainerSpec: { Image: 'shoal-test/busybox:1', Command: ['sh', '-c', 'echo job done'] },
        RestartPolicy: { Condition: 'on-failure' },
      },
      Mode: { ReplicatedJob: { MaxConcurrent: 2, TotalCompletions: 3 } },
    } as never);
    await waitFor(
      '3 complete tasks',
      () =>
        shoal
          .docker(['service', 'ps', 'dockerode-job', '--format', '{{.CurrentState}}'])
          .split('\n')
          .filter((l) => l.startsWith('Complete')).length === 3,
      60_000,
      500,
      shoal.explain('dockerode-job'),
    );
    const listed = (await docker.listServices({
      filters: { name: ['dockerode-job'] },
      status: true,
    } as never)) as unknown as { ServiceStatus?: { CompletedTasks: number } }[];
    assert.equal(listed[0]?.ServiceStatus?.CompletedTasks, 3);
    await docker.getService('dockerode-job').remove();
  });

  it('creates, lists, updates (labels, with versions) and removes secrets and configs', async () => {
    const secret = (await docker.createSecret({
      Name: 'dockerode-pw',
      Data: Buffer.from('Aa123456').toString('base64'),
    } as never)) as unknown as Docker.Secret;
    const config = (await docker.createConfig({
      Name: 'dockerode-conf',
      Data: Buffer.from('x=1').toString('base64'),
    } as never)) as unknown as Docker.Config;
    for (let i = 0; i < 3; i++) {
      const s = (await secret.inspect()) as { Version: { Index: number }; Spec: { Name: string } };
      await sleep(100);
      await secret.update({ version: s.Version.Index, Name: s.Spec.Name, Labels: { round: String(i) } } as never);
      const c = (await config.inspect()) as { Version: { Index: number }; Spec: { Name: string; Data: string } };
      await sleep(100);
      await config.update({ version: c.Version.Index, ...c.Spec, Labels: { round: String(i) } } as never);
    }
    const s = (await secret.inspect()) as { Spec: { Labels: Record<string, string>; Data?: string } };
    assert.deepEqual(s.Spec.Labels, { round: '2' });
    assert.equal(s.Spec.Data, undefined, 'a secret never shows its data');
    const c = (await config.inspect()) as { Spec: { Data: string } };
    assert.equal(Buffer.from(c.Spec.Data, 'base64').toString(), 'x=1', 'a config does');
    const listed = (await docker.listSecrets({ filters: { name: ['dockerode-pw'] } } as never)) as unknown as unknown[];
    assert.equal(listed.length, 1);
    await secret.remove();
    await config.remove();
    assert.deepEqual(await docker.listConfigs({ filters: { name: ['dockerode-conf'] } } as never), []);
  });

  it('creates, inspects, lists and removes an overlay network', async () => {
    const net = (await docker.createNetwork({
      Name: 'dockerode-net',
      Driver: 'overlay',
      Attachable: true,
      Labels: { a: 'b' },
    } as never)) as unknown as Docker.Network;
    const n = (await net.inspect()) as { Name: string; Scope: string; Driver: string; Labels: Record<string, string> };
    assert.deepEqual([n.Name, n.Scope, n.Driver, n.Labels], ['dockerode-net', 'swarm', 'overlay', { a: 'b' }]);
    const listed = (await docker.listNetworks({ filters: { driver: ['overlay'] } } as never)) as unknown as {
      Name: string;
    }[];
    assert.ok(listed.some((x) => x.Name === 'dockerode-net'));
    await net.remove();
  });

  it('removes the service and leaves the swarm', async () => {
    await docker.getService(SERVICE).remove();
    await waitFor('no service', () => shoal.docker(['service', 'ls', '-q']).trim() === '', 30_000);
    await docker.swarmLeave({ force: true });
    assert.equal(shoal.docker(['info', '--format', '{{.Swarm.LocalNodeState}}']).trim(), 'inactive');
  });
});
