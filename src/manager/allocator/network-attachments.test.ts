import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Harness } from '../testing/harness.js';

let h: Harness;
beforeEach(async () => {
  h = new Harness();
  await h.start();
});
afterEach(() => h.stop());

describe('overlay allocation', () => {
  it('gives a network a subnet and VNI, a vip service a VIP, every task an address; rm is refused while in use', async () => {
    await h.addNode({ hostname: 'n1' });
    const { id: net } = await h.control.createNetwork({ Name: 'demo', Driver: 'overlay' });
    const n = await h.control.getNetwork('demo');
    assert.equal(n.ID, net);
    assert.deepEqual(n.Allocation, { Subnet: '10.0.0.0/24', Gateway: '10.0.0.1', VNI: 4096 });
    const other = await h.control.createNetwork({
      Name: 'other',
      Driver: 'overlay',
      IPAM: { Config: [{ Subnet: '10.9.0.0/24' }] },
    });
    assert.equal((await h.control.getNetwork(other.id)).Allocation.VNI, 4097);
    await assert.rejects(
      h.control.createNetwork({ Name: 'demo', Driver: 'overlay' }),
      /network with name demo already exists/,
    );
    await assert.rejects(
      h.control.createNetwork({ Name: 'x', Driver: 'overlay', IPAM: { Config: [{ Subnet: '10.0.0.0/16' }] } }),
      /Pool overlaps/,
    );
    await assert.rejects(
      h.control.createNetwork({ Name: 'sec', Driver: 'overlay', Options: { encrypted: '' } }),
      /IPsec ESP/,
    );

    const svc = await h.createService({
      Name: 'web',
      Mode: { Replicated: { Replicas: 3 } },
      TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Networks: [{ Target: 'demo' }] },
    });
    await h.run(1000);
    const s = h.service(svc);
    assert.equal(s.Spec.TaskTemplate.Networks?.[0]?.Target, net, 'the name is resolved to the id');
    assert.deepEqual(s.Endpoint.VirtualIPs, [{ NetworkID: net, Addr: '10.0.0.2/24' }]);
    const addrs = h
      .running(svc)
      .map((t) => t.Networks?.[0]?.Addresses[0])
      .sort();
    assert.deepEqual(addrs, ['10.0.0.3/24', '10.0.0.4/24', '10.0.0.5/24']);
    await assert.rejects(h.control.removeNetwork('demo'), /network .* is in use by service/);
    await assert.rejects(
      h.createService({
        Name: 'bad',
        TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Networks: [{ Target: 'nope' }] },
      }),
      /network nope not found/,
    );

    await h.control.removeService('web');
    await h.run(3000);
    await h.control.removeNetwork('demo');
    assert.equal((await h.control.listNetworks()).length, 1);
  });

  it('gives dnsrr services no VIP', async () => {
    await h.addNode({ hostname: 'n1' });
    await h.control.createNetwork({ Name: 'demo', Driver: 'overlay' });
    const svc = await h.createService({
      Name: 'db',
      EndpointSpec: { Mode: 'dnsrr' },
      TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Networks: [{ Target: 'demo' }] },
    });
    await h.run(1000);
    assert.deepEqual(h.service(svc).Endpoint.VirtualIPs ?? [], []);
    assert.equal(h.running(svc)[0]?.Networks?.[0]?.Addresses[0], '10.0.0.2/24');
  });
});

describe('serial address allocation', () => {
  it('does not hand a freed address out again at once: it goes on after the last one allocated', async () => {
    await h.addNode({ hostname: 'n1' });
    await h.control.createNetwork({ Name: 'demo', Driver: 'overlay' });
    const svc = await h.createService({
      Name: 'web',
      Mode: { Replicated: { Replicas: 3 } },
      TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Networks: [{ Target: 'demo' }] },
    });
    await h.run(1000);
    const addresses = (tasks: { Networks?: { Addresses: string[] }[] }[]): string[] =>
      tasks.map((t) => t.Networks?.[0]?.Addresses[0] ?? '').sort();
    assert.deepEqual(addresses(h.running(svc)), ['10.0.0.3/24', '10.0.0.4/24', '10.0.0.5/24']);
    const scale = (n: number) => h.updateService(svc, (s) => ({ ...s, Mode: { Replicated: { Replicas: n } } }));
    await scale(1);
    await h.run(3000);
    // The removed tasks are gone from the store: their addresses are free again.
    assert.deepEqual(addresses(h.tasks(svc)), addresses(h.running(svc)));
    assert.equal(h.running(svc).length, 1);
    await scale(3);
    await h.run(1000);
    const now = addresses(h.running(svc));
    assert.equal(now.length, 3);
    assert.ok(now.includes('10.0.0.6/24') && now.includes('10.0.0.7/24'), `new tasks got ${now.join(' ')}`);
  });
});

describe('the ingress network', () => {
  it('takes the first subnet of the default pool, or of --default-addr-pool with its mask length', async () => {
    const { ingressNetwork, initialCluster } = await import('../controlapi/swarm-init.js');
    const random = new (await import('../../common/random.js')).SeededRandom(1);
    const plain = initialCluster({ clusterId: 'c', req: {}, ca: { certPem: 'x' }, now: 0, random });
    assert.deepEqual(ingressNetwork('i', plain, 0).Allocation, {
      Subnet: '10.0.0.0/24',
      Gateway: '10.0.0.1',
      VNI: 4096,
    });
    const pooled = initialCluster({
      clusterId: 'c',
      req: { DefaultAddrPool: ['10.20.0.0/16'], SubnetSize: 26 },
      ca: { certPem: 'x' },
      now: 0,
      random,
    });
    const ingress = ingressNetwork('i', pooled, 0);
    assert.equal(ingress.Spec.Ingress, true);
    assert.deepEqual(ingress.Allocation, { Subnet: '10.20.0.0/26', Gateway: '10.20.0.1', VNI: 4096 });
  });
});

describe('the routing mesh allocation', () => {
  it('gives every node an ingress address, a publishing service an ingress VIP first, its tasks an ingress address first; the dispatcher view runs the mesh on every node', async () => {
    const { networkViewFor } = await import('../dispatcher/network-view.js');
    const n1 = await h.addNode({ hostname: 'n1' });
    const n2 = await h.addNode({ hostname: 'n2' });
    const { id: ingress } = await h.control.createNetwork({ Name: 'ingress', Driver: 'overlay', Ingress: true });
    const { id: front } = await h.control.createNetwork({ Name: 'front', Driver: 'overlay' });
    await h.run(200);
    const nodes = h.store.view((tx) => tx.all('node'));
    const nodeAddrs = nodes.map((n) => n.Attachments?.[0]?.Addresses[0]).sort();
    assert.deepEqual(nodeAddrs, ['10.0.0.2/24', '10.0.0.3/24']);
    assert.ok(nodes.every((n) => n.Attachments?.[0]?.NetworkID === ingress));

    const svc = await h.createService({
      Name: 'web',
      Mode: { Replicated: { Replicas: 2 } },
      TaskTemplate: {
        ContainerSpec: { Image: 'busybox' },
        Networks: [{ Target: 'front' }],
        Placement: { Constraints: ['node.hostname==n1'] },
      },
      EndpointSpec: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080 }] },
    });
    await h.run(1000);
    const vips = h.service(svc).Endpoint.VirtualIPs ?? [];
    assert.deepEqual(
      vips.map((v) => v.NetworkID),
      [ingress, front],
      'ingress VIP first, as swarmkit',
    );
    for (const t of h.running(svc))
      assert.deepEqual(
        t.Networks?.map((a) => a.NetworkID),
        [ingress, front],
      );

    const all = h.store.view((tx) => ({
      tasks: tx.all('task'),
      services: tx.all('service'),
      networks: tx.all('network'),
      nodes: tx.all('node'),
    }));
    const idle = networkViewFor(n2, [], all);
    assert.ok(idle.mesh, 'a node without a task runs the mesh');
    assert.deepEqual(
      idle.networks.map((n) => n.id),
      [ingress],
    );
    assert.equal(idle.networks[0]?.ingress, true);
    const backends = h
      .running(svc)
      .map((t) => t.Networks![0]!.Addresses[0]!.split('/')[0]!)
      .sort();
    assert.deepEqual(idle.mesh.ports, [{ protocol: 'tcp', publishedPort: 8080, targetPort: 80, backends }]);
    assert.deepEqual(
      idle.mesh.peers.map((p) => p.ip),
      [all.nodes.find((n) => n.ID === n1)!.Attachments![0]!.Addresses[0]!.split('/')[0]],
    );

    // A task told to shut down gets no new flow.
    const stopping = h.running(svc)[0]!;
    await h.store.update((tx) => tx.update('task', { ...tx.get('task', stopping.ID)!, DesiredState: 'shutdown' }));
    const after = h.store.view((tx) => ({
      tasks: tx.all('task'),
      services: tx.all('service'),
      networks: tx.all('network'),
      nodes: tx.all('node'),
    }));
    assert.equal(networkViewFor(n2, [], after).mesh?.ports[0]?.backends.length, 1);

    await h.control.removeService('web');
    await h.run(3000);
    const gone = h.store.view((tx) => ({
      tasks: tx.all('task'),
      services: tx.all('service'),
      networks: tx.all('network'),
      nodes: tx.all('node'),
    }));
    assert.equal(networkViewFor(n2, [], gone).mesh, undefined, 'no publishing service: no mesh');
  });
});

describe('a network out of addresses', () => {
  it('holds back only the tasks that need it, visibly; the rest of the cluster goes on', async () => {
    await h.addNode({ hostname: 'n1' });
    // A /29: 8 addresses, less the network, broadcast and gateway: 5 usable; the VIP takes one.
    await h.control.createNetwork({ Name: 'tiny', Driver: 'overlay', IPAM: { Config: [{ Subnet: '10.7.0.0/29' }] } });
    await h.control.createNetwork({ Name: 'roomy', Driver: 'overlay', IPAM: { Config: [{ Subnet: '10.8.0.0/24' }] } });
    const big = await h.createService({
      Name: 'big',
      Mode: { Replicated: { Replicas: 6 } },
      TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Networks: [{ Target: 'tiny' }] },
    });
    await h.run(1000);
    const other = await h.createService({
      Name: 'other',
      Mode: { Replicated: { Replicas: 2 } },
      TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Networks: [{ Target: 'roomy' }] },
    });
    await h.run(1000);
    assert.equal(h.running(big).length, 4, 'as many tasks as the subnet has addresses');
    assert.equal(h.running(other).length, 2, 'a service on another network is not held back');
    const waiting = h.tasks(big).filter((t) => t.Status.State === 'new');
    assert.equal(waiting.length, 2);
    for (const t of waiting) assert.match(t.Status.Err ?? '', /no available addresses on this pool/);
    // Scaling down frees addresses: the waiting tasks of a smaller service get them.
    await h.updateService(big, (s) => ({ ...s, Mode: { Replicated: { Replicas: 4 } } }));
    await h.run(1000);
    assert.equal(h.running(big).length, 4);
  });
});
