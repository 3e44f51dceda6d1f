/**
 * The allocator: gives services their published ports (ingress ports without a number get one from
 * 30000-32767) and their VIPs on attached overlays (and on ingress when they publish through the
 * mesh), gives every node its ingress address, gives new tasks an address on each network they
 * attach to, and moves them to PENDING only once that is done (as swarmkit does).
 */
import { sameValue } from '../../common/canonical.js';
import type { Clock } from '../../common/clock.js';
import { ShoalError } from '../../common/errors.js';
import type { Logger } from '../../common/logging.js';
import { noAvailableIps } from '../../network/ipam-errors.js';
import type { Store } from '../../store/store.js';
import type { PortConfig, ServiceObject } from '../../store/types.js';
import { Reconciler } from '../reconciler.js';
import {
  AddressBook,
  nodeAttachments,
  serviceVips,
  taskAttachments,
  type AllocationCursors,
} from './network-attachments.js';

export const DYNAMIC_PORT_START = 30000;
export const DYNAMIC_PORT_END = 32767;

const portKey = (p: PortConfig): string => `${p.Protocol ?? 'tcp'}/${p.PublishedPort}`;

/** Allocates published ports for one service, given the ports other services hold. Pure. */
export function allocatePorts(service: ServiceObject, taken: Set<string>): PortConfig[] {
  const ports: PortConfig[] = [];
  const previous = service.Endpoint.Ports ?? [];
  for (const spec of service.Spec.EndpointSpec?.Ports ?? []) {
    const p: PortConfig = {
      Protocol: spec.Protocol ?? 'tcp',
      TargetPort: spec.TargetPort,
      PublishMode: spec.PublishMode ?? 'ingress',
    };
    if (spec.Name) p.Name = spec.Name;
    if (spec.PublishedPort) p.PublishedPort = spec.PublishedPort;
    else if (p.PublishMode === 'ingress') {
      // Keep a dynamic port across updates when the same target is still published.
      const kept = previous.find(
        (o) => o.TargetPort === p.TargetPort && o.Protocol === p.Protocol && o.PublishMode === 'ingress',
      );
      let port = kept?.PublishedPort;
      if (port === undefined) {
        for (let c = DYNAMIC_PORT_START; c <= DYNAMIC_PORT_END; c++) {
          if (!taken.has(`${p.Protocol}/${c}`)) {
            port = c;
            break;
          }
        }
      }
      if (port !== undefined) p.PublishedPort = port;
    }
    if (p.PublishMode === 'ingress' && p.PublishedPort) taken.add(portKey(p));
    ports.push(p);
  }
  return ports;
}

/** The result of an allocation, or the error when a network has no address left for it. */
function orExhausted<T>(allocate: () => T): T | ShoalError {
  try {
    return allocate();
  } catch (e) {
    if (e instanceof ShoalError && e.message === noAvailableIps().message) return e;
    throw e;
  }
}

function samePorts(a: PortConfig[] | undefined, b: PortConfig[]): boolean {
  return sameValue(a ?? [], b);
}

export class Allocator extends Reconciler {
  /** Where this leader last allocated on each network: a freed address is not reused at once. */
  private readonly cursors: AllocationCursors = new Map();

  constructor(store: Store, clock: Clock, logger: Logger) {
    super('allocator', store, clock, logger, 10);
  }

  protected override interested(table: string): boolean {
    return table === 'service' || table === 'task' || table === 'network' || table === 'node';
  }

  protected async reconcile(): Promise<void> {
    await this.store.update((tx) => {
      const services = tx.all('service');
      const taken = new Set<string>();
      for (const s of services)
        for (const p of s.Endpoint.Ports ?? [])
          if (p.PublishMode === 'ingress' && p.PublishedPort) taken.add(portKey(p));
      for (const s of services) {
        const specChanged = !sameValue(s.Endpoint.Spec, s.Spec.EndpointSpec ?? {});
        if (!specChanged) continue;
        for (const p of s.Endpoint.Ports ?? [])
          if (p.PublishMode === 'ingress' && p.PublishedPort) taken.delete(portKey(p));
        const ports = allocatePorts(s, taken);
        if (!samePorts(s.Endpoint.Ports, ports) || specChanged) {
          tx.update('service', {
            ...s,
            Endpoint: { ...s.Endpoint, Spec: structuredClone(s.Spec.EndpointSpec ?? {}), Ports: ports },
          });
        }
      }
      const networks = new Map(tx.all('network').map((n) => [n.ID, n]));
      const book = new AddressBook(tx.all('service'), tx.all('task'), tx.all('node'), this.cursors);
      for (const n of tx.all('node')) {
        const attachments = orExhausted(() => nodeAttachments(n, networks, book));
        if (attachments instanceof ShoalError) this.logger.warn('no ingress address for node', { node: n.ID });
        else if (attachments) tx.update('node', { ...n, Attachments: attachments });
      }
      // A service without its VIPs holds its new tasks back, so they never start unreachable by name.
      const noVip = new Map<string, ShoalError>();
      for (const s of tx.all('service')) {
        const vips = orExhausted(() => serviceVips(s, networks, book));
        if (vips instanceof ShoalError) noVip.set(s.ID, vips);
        else if (vips) tx.update('service', { ...s, Endpoint: { ...s.Endpoint, VirtualIPs: vips } });
      }
      for (const t of tx.all('task')) {
        if (t.Status.State !== 'new') continue;
        const svc = tx.get('service', t.ServiceID);
        if (!svc) continue;
        // A task waits in NEW until every network it attaches to exists and has given it an address;
        // one whose network is out of addresses says so and waits (swarmkit retries it the same way).
        const attachments = noVip.get(svc.ID) ?? orExhausted(() => taskAttachments(t, svc, networks, book));
        if (attachments instanceof ShoalError) {
          if (t.Status.Err !== attachments.message)
            tx.update('task', { ...t, Status: { ...t.Status, Err: attachments.message, Timestamp: tx.now } });
          continue;
        }
        if (!attachments) continue;
        const ports = structuredClone(svc.Endpoint.Ports ?? []);
        tx.update('task', {
          ...t,
          Endpoint: { Ports: ports },
          ...(attachments.length ? { Networks: attachments } : {}),
          Status: {
            ...t.Status,
            State: 'pending',
            Message: 'pending task scheduling',
            Err: undefined,
            Timestamp: tx.now,
          },
        });
      }
    });
  }
}
