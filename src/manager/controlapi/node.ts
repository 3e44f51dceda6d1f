/** Nodes: `node ls|inspect|update|promote|demote|rm`. */
import { ShoalError } from '../../common/errors.js';
import { isTerminal, type NodeObject, type NodeSpec } from '../../store/types.js';
import type { Store } from '../../store/store.js';
import { storeWrite } from './context.js';
import { read, write } from './method.js';
import { resolveRef } from './resolve.js';
import { rpcError } from './rpc-errors.js';

function allNodes(store: Store): NodeObject[] {
  return store.view((tx) => tx.all('node'));
}

/** ref = full id, exact hostname, or unique id prefix. */
function findNode(store: Store, ref: string): NodeObject {
  return resolveRef(allNodes(store), ref, (n) => n.Spec.Name || n.Description.Hostname, 'node');
}

export const nodeMethods = {
  listNodes: read((ctx) => allNodes(ctx.store).map((n) => ctx.leader.decorate(n))),

  getNode: read((ctx, ref: string) => ctx.leader.decorate(findNode(ctx.store, ref))),

  /**
   * Promote and demote change the node's desired role; the leader's membership loop then changes
   * the Raft group to match, and the node itself switches role when its next heartbeat tells it.
   */
  updateNode: write(async (ctx, id: string, version: number, spec: NodeSpec): Promise<void> => {
    if (!['worker', 'manager'].includes(spec.Role))
      throw rpcError('invalid_argument', `invalid role ${String(spec.Role)}`);
    if (!['active', 'pause', 'drain'].includes(spec.Availability))
      throw rpcError('invalid_argument', `invalid availability ${String(spec.Availability)}`);
    const before = ctx.store.view((tx) => tx.get('node', id));
    if (before?.Spec.Role === 'manager' && spec.Role === 'worker') ctx.leader.checkDemote(before);
    await storeWrite(ctx, (tx) => {
      const cur = tx.get('node', id);
      if (!cur) throw new ShoalError('not_found', `node ${id} not found`);
      if (cur.Spec.Role === 'manager' && spec.Role === 'worker') {
        const managers = tx.all('node').filter((n) => n.Spec.Role === 'manager');
        if (managers.length <= 1)
          throw rpcError('failed_precondition', 'attempting to demote the last manager of the swarm');
      }
      const next: NodeObject = { ...cur, Version: { Index: version }, Spec: { ...spec, Labels: spec.Labels ?? {} } };
      // A promoted worker becomes a manager at the address it joined with (older nodes: the default port).
      if (cur.Spec.Role !== 'manager' && spec.Role === 'manager' && !cur.ManagerStatus) {
        next.ManagerStatus = {
          Leader: false,
          Reachability: 'unknown',
          Addr: cur.ClusterAddr ?? `${cur.Status.Addr}:2377`,
        };
      }
      tx.update('node', next);
    });
  }),

  removeNode: write(async (ctx, ref: string, force: boolean): Promise<void> => {
    const node = findNode(ctx.store, ref);
    if (node.Spec.Role === 'manager' || node.ManagerStatus) {
      throw rpcError(
        'failed_precondition',
        `node ${node.ID} is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal`,
      );
    }
    if (!force && node.Status.State !== 'down')
      throw rpcError('failed_precondition', `node ${node.ID} is not down and can't be removed`);
    await storeWrite(ctx, (tx) => {
      tx.delete('node', node.ID);
      // Its tasks can never report again; mark them orphaned so orchestration replaces them.
      for (const t of tx.find('task', (x) => x.NodeID === node.ID && !isTerminal(x.Status.State))) {
        tx.update('task', {
          ...t,
          Status: { ...t.Status, State: 'orphaned', Message: 'node removed', Timestamp: tx.now },
        });
      }
    });
  }),
};
