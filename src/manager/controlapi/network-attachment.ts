/**
 * Attachable overlays: a plain container on a node (`docker run --network NAME`, `docker network
 * connect`) gets an address on a swarm network from the leader, as swarmkit's resource allocator
 * does with a "network attachment" task. The address is allocated in the write itself (against every
 * address in use on the network), recorded on the node, and released when the node says the
 * container is gone; a non-attachable network is refused with swarmkit's PermissionDenied.
 */
import { ShoalError } from '../../common/errors.js';
import type { NodeId } from '../../common/ids.js';
import type { ContainerAttachment } from '../../store/types.js';
import { AddressBook } from '../allocator/network-attachments.js';
import { storeWrite } from './context.js';
import { write } from './method.js';
import { resolveRef } from './resolve.js';
import { rpcError } from './rpc-errors.js';

export interface AttachRequest {
  NodeID: NodeId;
  /** Network name, id or id prefix, as the user wrote it. */
  Target: string;
  /** Chosen by the node (a fresh id per container and network). */
  AttachmentID: string;
  ContainerID?: string;
  /** `--ip`: the address wanted, plain. */
  Address?: string;
  Aliases?: string[];
}

/** What the node needs to create or connect the container. */
export interface AttachResult {
  NetworkID: string;
  Name: string;
  /** With its prefix length (`10.0.1.5/24`). */
  Address: string;
  Subnet: string;
  Gateway: string;
}

export interface DetachRequest {
  NodeID: NodeId;
  /** These attachments, and every attachment of ContainerID (on NetworkID when given). */
  AttachmentIDs?: string[];
  ContainerID?: string;
  NetworkID?: string;
}

const ATTACHMENT_ID = /^[a-z0-9]{1,64}$/;

/**
 * Attachments one node may hold at once: far above what a host runs, low enough that a hostile node
 * cannot use up a network's addresses or grow its node object without bound.
 */
export const MAX_ATTACHMENTS_PER_NODE = 1024;

export const networkAttachmentMethods = {
  attachNetwork: write(async (ctx, req: AttachRequest): Promise<AttachResult> => {
    if (!ATTACHMENT_ID.test(req.AttachmentID)) throw new ShoalError('invalid_argument', 'invalid attachment id');
    let result: AttachResult | undefined;
    await storeWrite(ctx, (tx) => {
      const node = tx.get('node', req.NodeID);
      if (!node) throw rpcError('not_found', `node ${req.NodeID} not found`);
      const network = resolveRef(tx.all('network'), req.Target, (n) => n.Spec.Name, 'network');
      if (!network.Spec.Attachable || network.Spec.Ingress)
        throw rpcError('permission_denied', `network ${req.Target} not manually attachable`);
      const existing = (node.ContainerAttachments ?? []).find((a) => a.ID === req.AttachmentID);
      let attachment = existing;
      if (!attachment && (node.ContainerAttachments?.length ?? 0) >= MAX_ATTACHMENTS_PER_NODE)
        throw rpcError(
          'failed_precondition',
          `node ${req.NodeID} already holds ${MAX_ATTACHMENTS_PER_NODE} network attachments`,
        );
      if (!attachment) {
        const book = new AddressBook(tx.all('service'), tx.all('task'), tx.all('node'));
        attachment = {
          ID: req.AttachmentID,
          NetworkID: network.ID,
          Addresses: [book.allocate(network, req.Address)],
          ...(req.ContainerID ? { ContainerID: req.ContainerID } : {}),
          ...(req.Aliases?.length ? { Aliases: [...req.Aliases] } : {}),
        };
        tx.update('node', { ...node, ContainerAttachments: [...(node.ContainerAttachments ?? []), attachment] });
      }
      result = {
        NetworkID: network.ID,
        Name: network.Spec.Name,
        Address: attachment.Addresses[0]!,
        Subnet: network.Allocation.Subnet,
        Gateway: network.Allocation.Gateway,
      };
    });
    return result!;
  }),

  detachNetwork: write(async (ctx, req: DetachRequest): Promise<void> => {
    const gone = (a: ContainerAttachment): boolean =>
      Boolean(req.AttachmentIDs?.includes(a.ID)) ||
      (req.ContainerID !== undefined &&
        a.ContainerID === req.ContainerID &&
        (req.NetworkID === undefined || a.NetworkID === req.NetworkID));
    await storeWrite(ctx, (tx) => {
      const node = tx.get('node', req.NodeID);
      const current = node?.ContainerAttachments ?? [];
      if (!node || !current.some(gone)) return;
      tx.update('node', { ...node, ContainerAttachments: current.filter((a) => !gone(a)) });
    });
  }),
};
