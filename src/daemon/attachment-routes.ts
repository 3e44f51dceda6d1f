/**
 * Attachable overlays for a node that is not the leader (a worker above all): the leader allocates
 * its container's address, as swarmkit's resource allocator answers a worker's network attachment.
 * The node is always the caller's certificate; a node can attach, detach and ask only for itself.
 */
import { ShoalError } from '../common/errors.js';
import type { NodeId } from '../common/ids.js';
import {
  AttachCallSchema,
  ContainerRefCallSchema,
  DetachCallSchema,
  NetworkRefCallSchema,
} from '../cluster/messages.js';
import type { ClusterPort } from '../cluster/port.js';
import { runMethod } from '../manager/controlapi/methods.js';
import type { Manager } from '../manager/manager.js';

export function serveAttachmentRoutes(port: ClusterPort, manager: Manager, barrier: () => Promise<void>): void {
  const caller = (peer: { nodeId: string } | undefined): NodeId => {
    if (!manager.isLeader) throw new ShoalError('unavailable', 'this manager is not the leader');
    return peer!.nodeId as NodeId;
  };
  port.call('/attachments/network', 'node', NetworkRefCallSchema, async (b, ctx) => {
    caller(ctx.peer);
    await barrier();
    try {
      const n = await runMethod(manager.controlContext, 'getNetwork', [b.ref]);
      return { id: n.ID };
    } catch (e) {
      if (e instanceof ShoalError && e.code === 'not_found') return {};
      throw e;
    }
  });
  port.call('/attachments/attach', 'node', AttachCallSchema, async (b, ctx) =>
    runMethod(manager.controlContext, 'attachNetwork', [{ ...b, NodeID: caller(ctx.peer) }]),
  );
  port.call('/attachments/detach', 'node', DetachCallSchema, async (b, ctx) => {
    await runMethod(manager.controlContext, 'detachNetwork', [{ ...b, NodeID: caller(ctx.peer) }]);
    return {};
  });
  port.call('/attachments/owns', 'node', ContainerRefCallSchema, async (b, ctx) => {
    const nodeId = caller(ctx.peer);
    await barrier();
    const node = await runMethod(manager.controlContext, 'getNode', [nodeId]);
    return { owns: (node.ContainerAttachments ?? []).some((a) => a.ContainerID === b.containerId) };
  });
}
