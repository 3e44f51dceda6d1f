/**
 * Swarm-scoped networks: `network create -d overlay|ls|inspect|rm`. The subnet, gateway and VXLAN
 * id are allocated in the create transaction (on the leader, against every other network), so a
 * conflict is refused to the user at once and every manager stores the same values.
 */
import { ShoalError } from '../../common/errors.js';
import { newId } from '../../common/ids.js';
import type { Store } from '../../store/store.js';
import type { IpamConfig, NetworkObject, NetworkSpec, ServiceSpec } from '../../store/types.js';
import { allocateNetwork } from '../allocator/network-allocation.js';
import { storeWrite } from './context.js';
import { read, write } from './method.js';
import { resolveRef } from './resolve.js';
import { rpcError } from './rpc-errors.js';

/** What `POST /networks/create` carries for a swarm network (Engine API field names). */
export interface NetworkCreateRequest {
  Name: string;
  Driver?: string;
  Attachable?: boolean;
  Internal?: boolean;
  Ingress?: boolean;
  Labels?: Record<string, string>;
  Options?: Record<string, string>;
  IPAM?: { Driver?: string; Options?: Record<string, string>; Config?: IpamConfig[] };
  EnableIPv6?: boolean;
}

/** Docker's overlay option for IPsec; the kernel here has no ESP transform to honour it. */
const ENCRYPTED_OPTION = 'encrypted';

/** ref = full id, exact name, or unique id prefix. */
export function findNetwork(store: Store, ref: string): NetworkObject {
  return resolveRef(
    store.view((tx) => tx.all('network')),
    ref,
    (n) => n.Spec.Name,
    'network',
  );
}

/** The spec a create request describes, validated with Docker's wording. */
export function networkSpecOf(req: NetworkCreateRequest): NetworkSpec {
  if (!req.Name) throw rpcError('invalid_argument', 'meta: name must be provided');
  const driver = req.Driver || 'overlay';
  if (driver !== 'overlay')
    throw new ShoalError(
      'invalid_argument',
      `network driver ${driver} is not supported for swarm-scoped networks; use -d overlay`,
    );
  const options = { ...(req.Options ?? {}) };
  if (ENCRYPTED_OPTION in options) {
    throw new ShoalError(
      'invalid_argument',
      'encrypted overlay networks are not supported: this kernel has no IPsec ESP transform (xfrm "proto esp" is unavailable), so shoal refuses rather than send the traffic in clear',
    );
  }
  if (req.EnableIPv6) throw new ShoalError('invalid_argument', 'IPv6 overlay networks are not supported by shoal');
  const ipamDriver = req.IPAM?.Driver || 'default';
  if (ipamDriver !== 'default')
    throw new ShoalError(
      'invalid_argument',
      `IPAM driver ${ipamDriver} is not supported; only the default IPAM driver is`,
    );
  const configs = (req.IPAM?.Config ?? []).map((c) => {
    const out: IpamConfig = {};
    if (c.Subnet) out.Subnet = c.Subnet;
    if (c.IPRange) out.IPRange = c.IPRange;
    if (c.Gateway) out.Gateway = c.Gateway;
    return out;
  });
  return {
    Name: req.Name,
    Labels: { ...(req.Labels ?? {}) },
    DriverConfiguration: { Name: 'overlay', Options: options },
    Attachable: Boolean(req.Attachable),
    Internal: Boolean(req.Internal),
    Ingress: Boolean(req.Ingress),
    IPAMOptions: {
      Driver: { Name: ipamDriver, ...(req.IPAM?.Options ? { Options: req.IPAM.Options } : {}) },
      Configs: configs,
    },
  };
}

/**
 * Replaces each `--network NAME` of a service with the network's ID, as Docker's daemon does before
 * handing the spec to swarmkit; an unknown network is refused with Docker's message.
 */
export function resolveServiceNetworks(spec: ServiceSpec, networks: readonly NetworkObject[]): void {
  const seen = new Set<string>();
  for (const a of spec.TaskTemplate.Networks ?? []) {
    let n: NetworkObject;
    try {
      n = resolveRef(networks, a.Target, (x) => x.Spec.Name, 'network');
    } catch {
      throw new ShoalError('not_found', `network ${a.Target} not found`);
    }
    if (n.Spec.Ingress)
      throw rpcError('invalid_argument', 'Service cannot be explicitly attached to the ingress network "ingress"');
    if (seen.has(n.ID))
      throw rpcError(
        'invalid_argument',
        `service cannot be attached to the same network more than once: ${n.Spec.Name}`,
      );
    seen.add(n.ID);
    a.Target = n.ID;
  }
}

export const networkMethods = {
  listNetworks: read((ctx) => ctx.store.view((tx) => tx.all('network'))),

  getNetwork: read((ctx, ref: string) => findNetwork(ctx.store, ref)),

  createNetwork: write(async (ctx, req: NetworkCreateRequest): Promise<{ id: string }> => {
    const spec = networkSpecOf(req);
    const id = newId(ctx.random);
    await storeWrite(ctx, (tx) => {
      const all = tx.all('network');
      if (all.some((n) => n.Spec.Name === spec.Name))
        throw new ShoalError('conflict', `network with name ${spec.Name} already exists`);
      if (spec.Ingress && all.some((n) => n.Spec.Ingress)) {
        throw rpcError('already_exists', 'ingress network already exists');
      }
      const allocation = allocateNetwork(spec, tx.all('cluster')[0], all);
      tx.create('network', {
        ID: id,
        Version: { Index: 0 },
        CreatedAt: tx.now,
        UpdatedAt: tx.now,
        Spec: spec,
        Allocation: allocation,
      });
    });
    return { id };
  }),

  removeNetwork: write(async (ctx, ref: string): Promise<void> => {
    const network = findNetwork(ctx.store, ref);
    await storeWrite(ctx, (tx) => {
      if (!tx.get('network', network.ID)) throw new ShoalError('not_found', `network ${ref} not found`);
      for (const s of tx.all('service')) {
        if (
          network.Spec.Ingress &&
          (s.Spec.EndpointSpec?.Ports ?? []).some((p) => (p.PublishMode ?? 'ingress') === 'ingress')
        ) {
          throw rpcError(
            'failed_precondition',
            `ingress network cannot be removed because service ${s.ID} depends on it`,
          );
        }
        if ((s.Spec.TaskTemplate.Networks ?? []).some((a) => a.Target === network.ID)) {
          throw rpcError('failed_precondition', `network ${network.ID} is in use by service ${s.ID}`);
        }
      }
      for (const t of tx.all('task')) {
        if (
          t.Status.State !== 'remove' &&
          t.DesiredState !== 'remove' &&
          (t.Networks ?? []).some((a) => a.NetworkID === network.ID)
        ) {
          throw rpcError('failed_precondition', `network ${network.ID} is in use by task ${t.ID}`);
        }
      }
      for (const n of tx.all('node')) {
        const a = (n.ContainerAttachments ?? []).find((x) => x.NetworkID === network.ID);
        if (a) throw rpcError('failed_precondition', `network ${network.ID} is in use by task ${a.ID}`);
      }
      tx.delete('network', network.ID);
    });
  }),
};
