import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../../common/logging.js';
import type { NetworkView, ViewEndpoint } from '../../manager/dispatcher/session.js';
import { LiveDnsRecords } from '../../network/dns-records.js';
import { FakePlumbing } from '../../network/fake-plumbing.js';
import type { TaskObject } from '../../store/types.js';
import type { DockerNetworks } from './docker-networks.js';
import { HostNetworks } from './host-networks.js';

const ME = 'me';
const NET = 'n1';

const docker: DockerNetworks = {
  ensure: () => Promise.resolve(),
  remove: () => Promise.resolve(),
  listOwned: () => Promise.resolve([]),
};

function endpoint(taskId: string, ip: string, nodeId: string, serviceName: string): ViewEndpoint {
  return {
    networkId: NET,
    ip,
    nodeId,
    hostIp: nodeId === ME ? '192.168.0.1' : '192.168.0.2',
    taskId,
    taskName: `${serviceName}.1.${taskId}`,
    serviceName,
    aliases: [],
    serving: true,
  };
}

/** A running task of this node on NET, its container's PID `pid`. */
function task(id: string, ip: string, pid: number): TaskObject {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: 0,
    UpdatedAt: 0,
    ServiceID: 's',
    Slot: 1,
    NodeID: ME,
    Spec: { ContainerSpec: { Image: 'busybox' } },
    SpecVersion: 1,
    ServiceAnnotations: { Name: 's', Labels: {} },
    Annotations: { Name: '' },
    Status: {
      Timestamp: 0,
      State: 'running',
      Message: '',
      ContainerStatus: { ContainerID: id, PID: pid, ExitCode: 0 },
    },
    DesiredState: 'running',
    Networks: [{ NetworkID: NET, DockerNetwork: 'shl-n1', Addresses: [`${ip}/24`] }],
  } as TaskObject;
}

/** This node runs a client (c1) and one backend of `tgt` (b1); the other backend (b2) is remote. */
function view(o: { withB1?: boolean; dataPathPort?: number } = {}): NetworkView {
  return {
    networks: [{ id: NET, name: 'front', subnet: '10.0.1.0/24', gateway: '10.0.1.1', vni: 4097, internal: false }],
    services: [{ networkId: NET, name: 'tgt', mode: 'vip', vip: '10.0.1.2', aliases: [] }],
    endpoints: [
      endpoint('c1', '10.0.1.10', ME, 'client'),
      ...(o.withB1 === false ? [] : [endpoint('b1', '10.0.1.3', ME, 'tgt')]),
      endpoint('b2', '10.0.1.4', 'other', 'tgt'),
    ],
    ...(o.dataPathPort ? { dataPathPort: o.dataPathPort } : {}),
  };
}

function setup(dockerNetworks: DockerNetworks = docker): {
  host: HostNetworks;
  plumbing: FakePlumbing;
  inside: Map<number, FakePlumbing>;
  records: LiveDnsRecords;
} {
  const plumbing = new FakePlumbing();
  const inside = new Map<number, FakePlumbing>();
  const records = new LiveDnsRecords();
  const host = new HostNetworks({
    nodeId: ME,
    underlayIp: '192.168.0.1',
    plumbing,
    inContainer: (pid) => {
      const p = inside.get(pid) ?? new FakePlumbing();
      inside.set(pid, p);
      return p;
    },
    docker: dockerNetworks,
    records,
    dns: { listen: () => Promise.resolve(), close: () => Promise.resolve(), closeAll: () => Promise.resolve() },
    logger: silentLogger,
  });
  return { host, plumbing, inside, records };
}

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(ok(), what);
}

const TASKS = [task('c1', '10.0.1.10', 42), task('b1', '10.0.1.3', 43)];
const vipBody = (p: FakePlumbing | undefined): string => p?.tables.get('shoal-vip')?.body ?? '';

describe('HostNetworks', () => {
  it('a task container that ended here leaves local VIP tables and DNS at once, and its address is refused until the view drops it', async () => {
    const { host, plumbing, inside, records } = setup();
    host.update(view(), TASKS);
    await until('the client has a VIP table with both backends', () =>
      /10\.0\.1\.3.*10\.0\.1\.4/.test(vipBody(inside.get(42))),
    );

    host.taskEnded('b1');
    await until('b1 left the VIP table', () => !vipBody(inside.get(42)).includes('10.0.1.3'));
    assert.match(vipBody(inside.get(42)), /dnat to 10\.0\.1\.4/);
    assert.deepEqual(records.resolve('tasks.tgt', [NET]), { kind: 'answer', ips: ['10.0.1.4'] });
    const gone = plumbing.tables.get('shoal-gone');
    assert.ok(gone, 'a gone table');
    assert.equal(gone.family, 'netdev');
    assert.match(gone.body, /hook ingress device "shv-n1"/);
    assert.match(gone.body, /ip daddr \{ 10\.0\.1\.3 \} meta l4proto tcp reject with tcp reset/);

    // The managers' view catches up: the endpoint is gone, and so is the refusal.
    host.update(view({ withB1: false }), [TASKS[0]!]);
    await until('the gone table is removed', () => !plumbing.tables.has('shoal-gone'));
    assert.match(vipBody(inside.get(42)), /dnat to 10\.0\.1\.4/);
    await host.close();
  });

  it("creates the VXLAN device on the swarm's data path port (4789 when the view names none)", async () => {
    const { host, plumbing } = setup();
    host.update(view(), TASKS);
    await until('the overlay is plumbed', () => plumbing.overlays.has(NET));
    assert.equal(plumbing.overlays.get(NET)?.dstPort, 4789);
    host.update(view({ dataPathPort: 5789 }), TASKS);
    await until('the device follows the port', () => plumbing.overlays.get(NET)?.dstPort === 5789);
    await host.close();
  });

  it("a new attachable container waits for the overlay that the previous one's departure is taking down", async () => {
    const events: string[] = [];
    const present = new Set<string>();
    let releaseRemove: () => void = () => undefined;
    const removing = new Promise<void>((r) => (releaseRemove = r));
    const { host } = setup({
      ensure: (spec) => {
        if (!present.has(spec.name)) events.push('created');
        present.add(spec.name);
        return Promise.resolve();
      },
      remove: async (name) => {
        events.push('removing');
        await removing;
        present.delete(name);
        events.push('removed');
      },
      listOwned: () => Promise.resolve([...present]),
    });
    const attached = (ip: string | undefined): NetworkView => ({
      ...view(),
      services: [],
      endpoints: ip ? [{ ...endpoint(`att-${ip}`, ip, ME, ''), attachment: true }] : [],
    });
    host.update(attached('10.0.1.20'), []);
    await host.whenNetworkReady(NET, '10.0.1.20', 2000);
    assert.ok(present.has('shl-n1'));

    // The first container leaves; while its network is being removed, the next one attaches.
    host.update(attached(undefined), []);
    await until('the removal started', () => events.includes('removing'));
    host.update(attached('10.0.1.21'), []);
    const ready = host.whenNetworkReady(NET, '10.0.1.21', 2000).then(() => {
      events.push('ready');
      return present.has('shl-n1');
    });
    await new Promise((r) => setTimeout(r, 20));
    releaseRemove();
    assert.equal(await ready, true, 'the Docker network exists when the container may be created');
    assert.deepEqual(events, ['created', 'removing', 'removed', 'created', 'ready']);
    await host.close();
  });
});
