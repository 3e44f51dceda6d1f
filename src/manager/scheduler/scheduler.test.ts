import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import fc from 'fast-check';
import { Harness } from '../testing/harness.js';
import { parseConstraints, constraintsHold } from './constraint.js';

let h: Harness;
beforeEach(async () => {
  h = new Harness();
  await h.start();
});
afterEach(() => h.stop());

describe('scheduler', () => {
  it("leaves a task Pending with Docker's reason, then places it when a node fits", async () => {
    for (const n of ['n1', 'n2', 'n3']) await h.addNode({ hostname: n });
    const id = await h.createService({
      Name: 'db',
      TaskTemplate: { ContainerSpec: { Image: 'img:1' }, Placement: { Constraints: ['node.labels.disk==ssd'] } },
    });
    await h.run(500);
    const [t] = h.tasks(id);
    assert.equal(t!.Status.State, 'pending');
    assert.equal(t!.Status.Err, 'no suitable node (scheduling constraints not satisfied on 3 nodes)');
    await h.setNode('node-n2', (n) => ({ ...n, Spec: { ...n.Spec, Labels: { disk: 'ssd' } } }));
    await h.run(500);
    const [placed] = h.running(id);
    assert.equal(placed?.NodeID, 'node-n2');
  });

  it('counts each filter that rejected a node', async () => {
    await h.addNode({ hostname: 'n1', availability: 'drain' });
    await h.addNode({ hostname: 'n2', cpus: 1 });
    await h.addNode({ hostname: 'n3', cpus: 1 });
    const id = await h.createService({
      Name: 'big',
      TaskTemplate: { ContainerSpec: { Image: 'img:1' }, Resources: { Reservations: { NanoCPUs: 2e9 } } },
    });
    await h.run(500);
    assert.equal(
      h.tasks(id)[0]!.Status.Err,
      'no suitable node (insufficient resources on 2 nodes; 1 node not available for new tasks)',
    );
  });

  it('places a task only where the volume and log plugins it needs exist', async () => {
    const local = [
      { Type: 'Volume', Name: 'local' },
      { Type: 'Log', Name: 'json-file' },
    ];
    await h.addNode({ hostname: 'n1', plugins: local });
    await h.addNode({ hostname: 'n2', plugins: [...local, { Type: 'Volume', Name: 'rexray' }] });
    await h.addNode({ hostname: 'n3', plugins: [] });
    const mount = {
      Type: 'volume' as const,
      Source: 'data',
      Target: '/data',
      VolumeOptions: { DriverConfig: { Name: 'rexray' } },
    };
    const id = await h.createService({
      Name: 'db',
      TaskTemplate: { ContainerSpec: { Image: 'img:1', Mounts: [mount] } },
    });
    const logs = await h.createService({
      Name: 'gelf',
      TaskTemplate: { ContainerSpec: { Image: 'img:1' }, LogDriver: { Name: 'gelf' } },
    });
    await h.run(500);
    assert.equal(h.running(id)[0]?.NodeID, 'node-n2');
    // n3 reports no log plugins at all (an older engine): only n1 and n2 are known to lack gelf.
    assert.equal(h.running(logs)[0]?.NodeID, 'node-n3');
    const none = await h.createService({
      Name: 'nfs',
      TaskTemplate: {
        ContainerSpec: { Image: 'img:1', Mounts: [{ ...mount, VolumeOptions: { DriverConfig: { Name: 'nfs' } } }] },
      },
    });
    await h.run(500);
    assert.equal(h.tasks(none)[0]!.Status.Err, 'no suitable node (missing plugin on 3 nodes)');
  });

  it('honours max replicas per node', async () => {
    await h.addNode({ hostname: 'n1' });
    await h.addNode({ hostname: 'n2' });
    const id = await h.createService({
      Name: 'web',
      Mode: { Replicated: { Replicas: 3 } },
      TaskTemplate: { ContainerSpec: { Image: 'img:1' }, Placement: { MaxReplicas: 1 } },
    });
    await h.run(500);
    assert.equal(h.running(id).length, 2);
    assert.match(
      h.tasks(id).find((t) => t.Status.State === 'pending')!.Status.Err ?? '',
      /max replicas per node limit exceed on 2 nodes/,
    );
  });

  it('spreads over label groups with placement preferences', async () => {
    await h.addNode({ hostname: 'a1', labels: { zone: 'a' } });
    await h.addNode({ hostname: 'a2', labels: { zone: 'a' } });
    await h.addNode({ hostname: 'b1', labels: { zone: 'b' } });
    const id = await h.createService({
      Name: 'web',
      Mode: { Replicated: { Replicas: 4 } },
      TaskTemplate: {
        ContainerSpec: { Image: 'img:1' },
        Placement: { Preferences: [{ Spread: { SpreadDescriptor: 'node.labels.zone' } }] },
      },
    });
    await h.run(500);
    const onB = h.running(id).filter((t) => t.NodeID === 'node-b1').length;
    assert.equal(onB, 2, 'zone b (one node) gets half of the tasks');
  });

  it('never places a task on a node that violates its constraints (property)', () => {
    const node = (role: 'manager' | 'worker', zone: string) => ({
      ID: 'x',
      Version: { Index: 1 },
      CreatedAt: 0,
      UpdatedAt: 0,
      Spec: { Labels: { zone }, Role: role, Availability: 'active' as const },
      Description: {
        Hostname: 'h',
        Platform: { Architecture: 'x86_64', OS: 'linux' },
        Resources: { NanoCPUs: 1, MemoryBytes: 1 },
        Engine: { EngineVersion: '', Plugins: [] },
      },
      Status: { State: 'ready' as const, Addr: '10.0.0.5' },
    });
    fc.assert(
      fc.property(
        fc.constantFrom('manager', 'worker'),
        fc.constantFrom('a', 'b'),
        fc.constantFrom('==', '!='),
        fc.constantFrom('a', 'b'),
        (role, zone, op, want) => {
          const n = node(role as 'manager' | 'worker', zone) as unknown as Parameters<typeof constraintsHold>[1];
          const holds = constraintsHold(parseConstraints([`node.labels.zone${op}${want}`]), n);
          return holds === (op === '==' ? zone === want : zone !== want);
        },
      ),
    );
  });

  it('matches node.ip against a CIDR', () => {
    const n = { Status: { Addr: '10.0.0.5' } } as Parameters<typeof constraintsHold>[1];
    assert.ok(constraintsHold(parseConstraints(['node.ip==10.0.0.0/24']), n));
    assert.ok(!constraintsHold(parseConstraints(['node.ip==10.0.1.0/24']), n));
  });
});
