/**
 * Promotion and demotion as the node lives them: when the cluster wants this node in another role
 * (its heartbeat says so), it gets a certificate for that role from the leader and restarts its
 * runtime in it. A manager told by a peer that it was removed from the Raft group (a forced new
 * cluster, or a demotion while it was away) checks that with the peer and carries on as a worker.
 */
import { errorMessage } from '../common/errors.js';
import type { Logger } from '../common/logging.js';
import { roleOfCertificate, type NodeRole } from '../common/node-role.js';
import type { ManagersAnswer } from '../cluster/remote-dispatcher.js';
import type { CertificateRenewal } from './certificate-renewal.js';
import type { NodeHost } from './host.js';
import { saveNodeTls } from './node-certs.js';
import { saveNodeState, wipeRaftState, type NodeState } from './node-state.js';
import type { ClusterRuntime } from './runtime.js';

export class RoleSwitch {
  private switching = false;
  private checkingRemoval = false;

  constructor(
    private readonly host: NodeHost,
    private readonly certificates: CertificateRenewal,
    private readonly logger: Logger,
  ) {}

  /** The cluster wants this node in another role (promote/demote): switch once, in the background. */
  wanted(rt: ClusterRuntime, role: NodeRole): void {
    if (role === rt.state.role || this.host.runtime !== rt || this.switching) return;
    // A leader being demoted first hands leadership over (the membership reconciler does); until then it stays.
    if (rt.mgr?.manager.isLeader) return;
    this.switching = true;
    this.host
      .serialize(() => this.switchTo(rt, role))
      .catch((e: unknown) => this.logger.warn('switching role failed; will retry', { role, error: errorMessage(e) }))
      .finally(() => (this.switching = false));
  }

  /**
   * A manager says this one was removed from its Raft group. Believed only if that manager leads
   * and no longer counts this node among the managers; then this node carries on as the worker it now is.
   */
  removedBy(rt: ClusterRuntime, by: string): void {
    if (this.host.runtime !== rt || this.switching || this.checkingRemoval) return;
    this.checkingRemoval = true;
    void (async () => {
      try {
        const a = await rt.client.call<ManagersAnswer>(by, '/cluster/managers', {}, 5000);
        if (a.leader !== by || a.managers.some((m) => m.nodeId === rt.state.nodeId)) return;
        if (this.host.runtime !== rt || this.switching) return;
        this.logger.warn('this manager was removed from the raft group while it was away; carrying on as a worker', {
          leader: by,
        });
        this.switching = true;
        await this.host.serialize(() => this.switchTo(rt, 'worker', by)).finally(() => (this.switching = false));
      } catch (e) {
        this.logger.warn('checking a removal from the raft group failed', { by, error: errorMessage(e) });
      } finally {
        this.checkingRemoval = false;
      }
    })();
  }

  private async switchTo(rt: ClusterRuntime, role: NodeRole, leader?: string): Promise<void> {
    if (this.host.runtime !== rt || rt.state.role === role) return;
    const fresh = await this.certificates.fromLeader(rt, leader);
    const issued = roleOfCertificate(fresh.cert);
    if (issued !== role) throw new Error(`the leader issued a ${String(issued)} certificate, not a ${role} one yet`);
    this.logger.info(role === 'manager' ? 'promoted: becoming a manager' : 'demoted: becoming a worker', {
      node: rt.state.nodeId,
    });
    await this.host.close(rt);
    await saveNodeTls(this.host.dataRoot, fresh, role === 'manager' ? this.host.kek : undefined);
    // A demoted manager's Raft data is of no further use (a later promotion starts it afresh).
    if (role === 'worker') {
      await wipeRaftState(this.host.dataRoot);
      this.host.kek = undefined; // autolock is for managers only
    }
    const state: NodeState = { ...rt.state, role, bootstrap: false };
    await saveNodeState(this.host.dataRoot, state);
    this.host.activate(await this.host.open(state, false));
    this.logger.info(role === 'manager' ? 'promoted: running as a manager' : 'demoted: running as a worker', {
      node: rt.state.nodeId,
    });
  }
}
