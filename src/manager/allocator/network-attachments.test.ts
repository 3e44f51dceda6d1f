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
