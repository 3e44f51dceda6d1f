/**
 * Keeps the Raft group in line with the nodes' desired roles, on the leader: managers that are not
 * members join as learners, learners that caught up become voters, members whose node was demoted
 * or removed leave (a leader demoting itself hands leadership over first). One change at a time,
 * run on store changes to nodes and on changes of the leader's view of its followers.
 *
 * It also answers what only the leader knows about managers (reachability, quorum on demote), and
 * starts or stops the leader-only components as this member's leadership changes.
 */
import { systemClock } from '../common/clock.js';
import { ShoalError, errorMessage } from '../common/errors.js';
import type { Logger } from '../common/logging.js';
import type { ManagerAddr } from '../cluster/remote-dispatcher.js';
import type { LeaderHooks } from '../manager/controlapi/context.js';
import type { Manager } from '../manager/manager.js';
import { Reconciler } from '../manager/reconciler.js';
import type { RaftNode } from '../raft/node.js';
import type { TcpTransport } from '../raft/transport-tcp.js';
import { ConfChangeInProgressError } from '../raft/types.js';
import type { Store } from '../store/store.js';
import type { NodeObject } from '../store/types.js';
import { NO_LEADER } from './raft-store.js';

/** A learner this close to the leader's log is caught up enough to vote. */
const CAUGHT_UP_ENTRIES = 20;

export interface RaftMembershipOptions {
  store: Store;
  raft: RaftNode;
  transport: TcpTransport;
  manager: Manager;
  selfId: string;
  addrOf: (nodeId: string) => string | undefined;
  logger: Logger;
}

export class RaftMembership extends Reconciler implements LeaderHooks {
  /** Set while the daemon rewrites the membership itself (force-new-cluster). */
  hold = false;
  private closed = false;
  private leadEpoch = 0;
  private unobserve: (() => void) | undefined;
  private lastView = '';

  constructor(private readonly o: RaftMembershipOptions) {
    super('raft membership', o.store, systemClock, o.logger, 0);
  }

  override run(): void {
    super.run();
    // Progress of learners and reachability of voters change without a store write.
    this.unobserve = this.o.raft.observe(() => {
      const view = this.view();
      if (view === this.lastView) return;
      this.lastView = view;
      this.kick();
    });
  }

  override stop(): void {
    this.unobserve?.();
    this.unobserve = undefined;
    super.stop();
  }

  /** This manager's runtime is closing. */
  close(): void {
    this.closed = true;
    this.stop();
  }

  /** Raft says this member's leadership changed: start or stop the leader-only components. */
  leadershipChanged(leading: boolean): void {
    const epoch = ++this.leadEpoch;
    if (!leading) {
      this.stop();
      this.o.manager.loseLeadership();
      this.o.logger.info('lost leadership');
      return;
    }
    // Start only once everything committed before this term is applied (the store is current).
    this.o.raft.waitForLeadership(30_000).then(
      () => {
        if (epoch !== this.leadEpoch || this.closed || !this.o.raft.isLeader) return;
        this.o.logger.info('became the leader');
        this.o.manager.becomeLeader();
        this.run();
      },
      (e: unknown) => this.o.logger.warn('leadership did not settle', { error: errorMessage(e) }),
    );
  }

  /** The leader's cluster address, as this manager knows it. */
  leaderAddr(): string | undefined {
    const id = this.o.raft.leader;
    return id ? this.o.addrOf(id) : undefined;
  }

  managers(): ManagerAddr[] {
    return this.o.store
      .view((tx) => tx.all('node'))
      .flatMap((n) => (n.ManagerStatus ? [{ nodeId: n.ID, addr: n.ManagerStatus.Addr }] : []));
  }

  // ---------- LeaderHooks ----------

  decorate(node: NodeObject): NodeObject {
    if (!node.ManagerStatus) return node;
    const leader = this.o.raft.leader;
    const peer = this.o.raft.peers().find((p) => p.id === node.ID);
    const reachability =
      node.ID === leader
        ? 'reachable'
        : !peer || peer.learner
          ? 'unknown'
          : peer.reachable
            ? 'reachable'
            : 'unreachable';
    return {
      ...node,
      ManagerStatus: { ...node.ManagerStatus, Leader: node.ID === leader, Reachability: reachability },
    };
  }

  checkDemote(node: NodeObject): void {
    const { voters } = this.o.raft.members();
    if (!voters.includes(node.ID)) return;
    const reachable = this.o.raft.peers().filter((p) => !p.learner && p.reachable && p.id !== node.ID).length;
    const remaining = voters.length - 1;
    if (remaining > 0 && reachable < Math.floor(remaining / 2) + 1) {
      throw new ShoalError(
        'failed_precondition',
        `can't remove member from the raft: this would result in a loss of quorum`,
      );
    }
  }

  // ---------- reconciling ----------

  protected override interested(table: string): boolean {
    return table === 'node';
  }

  protected async reconcile(): Promise<void> {
    if (this.hold || this.closed || !this.o.raft.isLeader) return;
    try {
      await this.step();
    } catch (e) {
      // The change in flight is applied soon; its application changes the view and kicks again.
      if (e instanceof ConfChangeInProgressError) return;
      throw e;
    }
  }

  /** One membership change, the most urgent first. */
  private async step(): Promise<void> {
    const { raft } = this.o;
    const self = this.o.selfId;
    const { voters, learners } = raft.members();
    const nodes = new Map(this.o.store.view((tx) => tx.all('node')).map((n): [string, NodeObject] => [n.ID, n]));
    const leaving = [...learners, ...voters].find((id) => nodes.get(id)?.Spec.Role !== 'manager');
    if (leaving === self) {
      const next = raft
        .peers()
        .filter((p) => p.id !== self && p.reachable && !p.learner)
        .sort((a, b) => b.match - a.match)[0];
      if (next) raft.transferLeadership(next.id);
      return;
    }
    if (leaving) {
      await this.removeMember(leaving);
      this.o.logger.info('node is no longer a raft member', { node: leaving });
      return;
    }
    const joining = [...nodes.values()].find(
      (n) => n.Spec.Role === 'manager' && n.ManagerStatus && !voters.includes(n.ID) && !learners.includes(n.ID),
    );
    if (joining) {
      await raft.changeMembership({ kind: 'addLearner', member: joining.ID });
      return;
    }
    const commit = raft.progressIndex.commit;
    const ready = raft.peers().find((p) => p.learner && this.caughtUp(p, commit));
    if (ready) {
      await raft.changeMembership({ kind: 'add', member: ready.id });
      this.o.logger.info('manager caught up; it is now a raft voter', { node: ready.id });
    }
  }

  private caughtUp(p: { reachable: boolean; match: number }, commit: number): boolean {
    return p.reachable && p.match > 0 && p.match + CAUGHT_UP_ENTRIES >= commit;
  }

  /** What the leader sees of its group that decides the next change. */
  private view(): string {
    const { voters, learners } = this.o.raft.members();
    const commit = this.o.raft.progressIndex.commit;
    const peers = this.o.raft
      .peers()
      .map((p) => `${p.id}:${p.reachable ? 1 : 0}:${p.learner && this.caughtUp(p, commit) ? 1 : 0}`);
    return `${voters.join(',')}|${learners.join(',')}|${peers.join(',')}`;
  }

  /** Removes a member from the Raft group; its node keeps its status but no longer has a manager status. */
  private async removeMember(id: string): Promise<void> {
    if (!this.o.raft.isLeader) throw new ShoalError('unavailable', NO_LEADER);
    const m = this.o.raft.members();
    if (m.voters.includes(id) || m.learners.includes(id))
      await this.o.raft.changeMembership({ kind: 'remove', member: id });
    await this.o.store.update((tx) => {
      const cur = tx.get('node', id);
      if (!cur) return;
      const { ManagerStatus: gone, ...rest } = cur;
      tx.update('node', { ...rest, ClusterAddr: cur.ClusterAddr ?? gone?.Addr });
    });
    this.o.transport.forget(id);
  }
}
