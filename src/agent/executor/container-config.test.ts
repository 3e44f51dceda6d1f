import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TaskObject } from '../../store/types.js';
import { containerCreateRequest, taskName } from './container-config.js';
import { LogFrameDecoder } from './log-frames.js';
import { splitImage } from './docker-executor.js';

const task = (over: Partial<TaskObject> = {}): TaskObject =>
  ({
    ID: 'task0000000000000000000001',
    ServiceID: 'svc',
    Slot: 2,
    NodeID: 'node1',
    ServiceAnnotations: { Name: 'web', Labels: {} },
    Spec: {
      ContainerSpec: {
        Image: 'shoal-test/busybox:1',
        Command: ['sh', '-c'],
        Args: ['echo hi'],
        Env: ['A=1'],
        Labels: { 'com.docker.swarm.task.id': 'forged', mine: 'x' },
        Mounts: [{ Type: 'tmpfs', Target: '/scratch' }],
        StopGracePeriod: 3_000_000_000,
        Healthcheck: { Test: ['CMD', 'true'], Interval: 1_000_000_000 },
        Hosts: ['10.0.0.1 db db.local'],
      },
      Resources: { Limits: { NanoCPUs: 500_000_000, MemoryBytes: 64 * 1024 * 1024 } },
    },
    Endpoint: {
      Ports: [
        { TargetPort: 80, PublishedPort: 8080, Protocol: 'tcp', PublishMode: 'host' },
        { TargetPort: 81, PublishedPort: 30000, Protocol: 'tcp', PublishMode: 'ingress' },
      ],
    },
    ...over,
  }) as unknown as TaskObject;

describe('container create body', () => {
  it('names containers like Docker (slot, or node id for global tasks)', () => {
    assert.equal(taskName(task()), 'web.2.task0000000000000000000001');
    assert.equal(taskName(task({ Slot: 0 })), 'web.node1.task0000000000000000000001');
  });

  it('maps the container spec and lets system labels override user labels', () => {
    const { name, body } = containerCreateRequest(task(), { clusterId: 'c1', nodeId: 'node1' });
    assert.equal(name, 'web.2.task0000000000000000000001');
    const labels = body.Labels as Record<string, string>;
    assert.equal(labels['com.docker.swarm.task.id'], 'task0000000000000000000001');
    assert.equal(labels.mine, 'x');
    assert.equal(labels['io.shoal.cluster.id'], 'c1');
    assert.equal(labels['com.docker.swarm.service.name'], 'web');
    assert.deepEqual(body.Entrypoint, ['sh', '-c']);
    assert.deepEqual(body.Cmd, ['echo hi']);
    assert.equal(body.StopTimeout, 3);
    const hc = body.HostConfig as Record<string, unknown>;
    assert.deepEqual(hc.RestartPolicy, { Name: 'no' });
    assert.equal(hc.NanoCpus, 500_000_000);
    assert.deepEqual(hc.ExtraHosts, ['db:10.0.0.1', 'db.local:10.0.0.1']);
    assert.deepEqual(
      hc.PortBindings,
      { '80/tcp': [{ HostIp: '', HostPort: '8080' }] },
      'only host-mode ports are bound',
    );
    assert.deepEqual((body.Healthcheck as { Test: string[] }).Test, ['CMD', 'true']);
  });

  it('attaches the first network with its IP at create and connects the rest later', () => {
    const t = task({
      Networks: [
        { NetworkID: 'n1', DockerNetwork: 'shoal-net1', Addresses: ['10.0.1.5/24'], Aliases: ['web'] },
        { NetworkID: 'n2', DockerNetwork: 'shoal-net2', Addresses: ['10.0.2.5/24'] },
      ],
    });
    const r = containerCreateRequest(t, { clusterId: 'c', nodeId: 'n' });
    const eps = (
      r.body.NetworkingConfig as { EndpointsConfig: Record<string, { IPAMConfig: { IPv4Address: string } }> }
    ).EndpointsConfig;
    assert.equal(eps['shoal-net1']!.IPAMConfig.IPv4Address, '10.0.1.5');
    assert.deepEqual(r.extraNetworks, [{ name: 'shoal-net2', ipv4: '10.0.2.5', aliases: [] }]);
  });
});

describe('log frames', () => {
  it('decodes multiplexed frames into lines per stream, across frame boundaries', () => {
    const frame = (s: number, text: string): Buffer => {
      const b = Buffer.from(text);
      const h = Buffer.alloc(8);
      h[0] = s;
      h.writeUInt32BE(b.length, 4);
      return Buffer.concat([h, b]);
    };
    const d = new LogFrameDecoder(false);
    const all = Buffer.concat([
      frame(1, '2026-01-01T00:00:00.000000001Z hel'),
      frame(1, 'lo\n'),
      frame(2, '2026-01-01T00:00:01Z oops\n'),
    ]);
    const lines = [...d.push(all.subarray(0, 5)), ...d.push(all.subarray(5))];
    assert.deepEqual(lines, [
      { stream: 1, timestamp: '2026-01-01T00:00:00.000000001Z', line: 'hello' },
      { stream: 2, timestamp: '2026-01-01T00:00:01Z', line: 'oops' },
    ]);
  });

  it('splits image references like the engine', () => {
    assert.deepEqual(splitImage('busybox'), { name: 'busybox', tag: 'latest' });
    assert.deepEqual(splitImage('localhost:5000/a/b:2'), { name: 'localhost:5000/a/b', tag: '2' });
    assert.deepEqual(splitImage('localhost:5000/a/b'), { name: 'localhost:5000/a/b', tag: 'latest' });
  });
});
