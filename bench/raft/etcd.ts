/** A 3-member etcd on loopback for bench/raft: the anchor shoal's Raft is measured against. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { httpCall, pollLeader, type ProcessGroup } from '../../test/raft-kv/cluster.js';

export class EtcdCluster implements ProcessGroup {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'shoal-bench-etcd-'));
  readonly ids = ['e1', 'e2', 'e3'];
  private procs = new Map<string, ChildProcess>();

  constructor(
    private readonly basePort = 32379,
    private readonly snapshotCount = 100_000,
  ) {}

  clientUrl(id: string): string {
    return `http://127.0.0.1:${this.basePort + this.ids.indexOf(id)}`;
  }

  private peerUrl(id: string): string {
    return `http://127.0.0.1:${this.basePort + 100 + this.ids.indexOf(id)}`;
  }

  async start(id: string): Promise<void> {
    const p = spawn(
      'etcd',
      [
        ...['--name', id, '--data-dir', path.join(this.dir, id)],
        ...['--listen-client-urls', this.clientUrl(id), '--advertise-client-urls', this.clientUrl(id)],
        ...['--listen-peer-urls', this.peerUrl(id), '--initial-advertise-peer-urls', this.peerUrl(id)],
        ...[
          '--initial-cluster',
          this.ids.map((m) => `${m}=${this.peerUrl(m)}`).join(','),
          '--initial-cluster-state',
          'new',
        ],
        ...['--heartbeat-interval', '100', '--election-timeout', '1000', '--log-level', 'error'],
        ...['--snapshot-count', String(this.snapshotCount)],
      ],
      { stdio: 'ignore' },
    );
    this.procs.set(id, p);
  }

  async startAll(): Promise<void> {
    for (const id of this.ids) await this.start(id);
    await this.waitForLeader();
  }

  running(id: string): boolean {
    return this.procs.has(id);
  }

  async kill(id: string): Promise<void> {
    const p = this.procs.get(id);
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
    this.procs.delete(id);
  }

  /** The member that leads, asked through the maintenance status API of running members. */
  async leader(): Promise<string | undefined> {
    for (const id of this.ids) {
      if (!this.running(id)) continue;
      try {
        const r = await httpCall(`${this.clientUrl(id)}/v3/maintenance/status`, 'POST', '{}', 500);
        const s = JSON.parse(r.body) as { header?: { member_id?: string }; leader?: string };
        if (s.leader && s.header?.member_id === s.leader) return id;
      } catch {
        // not up yet
      }
    }
    return undefined;
  }

  async waitForLeader(timeoutMs = 30_000): Promise<string> {
    return pollLeader(this, timeoutMs);
  }

  async destroy(): Promise<void> {
    for (const id of [...this.procs.keys()]) await this.kill(id);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
