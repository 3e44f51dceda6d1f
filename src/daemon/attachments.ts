/**
 * This node's side of attachable overlays, as the API sees it: a manager asks the control API (which
 * forwards to the leader), a worker asks the leader over the cluster port, where the node is the
 * caller's certificate. Either way the leader allocates and releases (see `attachment-routes.ts`).
 */
import { ShoalError } from '../common/errors.js';
import type { NodeId } from '../common/ids.js';
import type { AttachmentCluster, LocalAttachments } from '../api/routes-containers.js';
import type { ClusterApi } from '../manager/controlapi/methods.js';
import type { AttachResult } from '../manager/controlapi/network-attachment.js';
import type { NodeHost } from './host.js';
import type { ClusterRuntime } from './runtime.js';

export function managerAttachments(control: ClusterApi, nodeId: NodeId): AttachmentCluster {
  return {
    networkId: async (ref) => {
      try {
        return (await control.getNetwork(ref)).ID;
      } catch (e) {
        if (e instanceof ShoalError && e.code === 'not_found') return undefined;
        throw e;
      }
    },
    attach: (req) => control.attachNetwork({ ...req, NodeID: nodeId }),
    detach: (req) => control.detachNetwork({ ...req, NodeID: nodeId }),
    owns: async (containerId) =>
      ((await control.getNode(nodeId)).ContainerAttachments ?? []).some((a) => a.ContainerID === containerId),
  };
}

export function workerAttachments(rt: ClusterRuntime): AttachmentCluster {
  const leaderCall = async <T>(path: string, body: unknown): Promise<T> =>
    rt.client.call<T>(await rt.remote.findLeader(), path, body);
  return {
    networkId: async (ref) => (await leaderCall<{ id?: string }>('/attachments/network', { ref })).id,
    attach: (req) => leaderCall<AttachResult>('/attachments/attach', req),
    detach: async (req) => {
      await leaderCall('/attachments/detach', req);
    },
    owns: async (containerId) => (await leaderCall<{ owns: boolean }>('/attachments/owns', { containerId })).owns,
  };
}

/** What the Engine API's container routes need of this node for `docker run --network`. */
export function localAttachments(host: NodeHost, control: ClusterApi): LocalAttachments {
  return {
    cluster: () => {
      const rt = host.runtime;
      if (!rt) return undefined;
      return rt.mgr ? managerAttachments(control, rt.state.nodeId as NodeId) : workerAttachments(rt);
    },
    whenNetworkReady: async (id, address, ms) => {
      const networks = host.runtime?.agent.networks;
      if (!networks) throw new Error('this node has no overlay networking');
      await networks.whenNetworkReady(id, address, ms);
    },
    containerStarted: (ips, pid) => host.runtime?.agent.networks?.containerStarted(ips, pid),
  };
}
