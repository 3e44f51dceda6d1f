/**
 * Runs the raft-kv harness as real processes on loopback: start, kill -9, restart, ask for the
 * leader. Used by the real-process Raft test and by bench/raft. Every process it starts is ended in
 * `destroy`, and its directories removed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SERVER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'server.js');

export interface MemberStatus {
  id: string;
  leader: string;
  isLeader: boolean;
  term: number;
  commit: number;
  applied: number;
  keys: number;
  syncs: number;
  entries: number;
  snapshotsInstalled: number;
}

export function httpCall(
  url: string,
  method = 'GET',
  body?: string,
  timeoutMs = 2000,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, timeout: timeoutMs }, (res) => {
      let b = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (b += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/** How a member's process ended on its own (not by kill()). */
export interface MemberExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class KvCluster implements ProcessGroup {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'shoal-raftkv-'));
  readonly ids: string[];
  /** Data directories placed elsewhere (a small filesystem under test); the rest live under `dir`. */
  readonly dataDirs = new Map<string, string>();
  private procs = new Map<string, ChildProcess>();
  private errs = new Map<string, string>();
  private exits = new Map<string, MemberExit>();

  constructor(
    size: number,
    private readonly basePort: number,
    private readonly extraArgs: string[] = [],
  ) {
    this.ids = Array.from({ length: size }, (_, i) => `m${i + 1}`);
  }

  raftPort(id: string): number {
    return this.basePort + this.ids.indexOf(id);
  }

  clientUrl(id: string): string {
    return `http://127.0.0.1:${this.basePort + 100 + this.ids.indexOf(id)}`;
  }

  get endpoints(): Map<string, string> {
    return new Map(this.ids.map((id) => [id, this.clientUrl(id)]));
  }

  dataDir(id: string): string {
    return this.dataDirs.get(id) ?? path.join(this.dir, id);
  }

  /** What the member wrote to stderr since it was last started (also passed through to ours). */
  stderr(id: string): string {
    return this.errs.get(id) ?? '';
  }

  /** How the member's last process ended on its own, if it did. */
  exitOf(id: string): MemberExit | undefined {
    return this.exits.get(id);
  }

  async start(id: string): Promise<void> {
    const peers = this.ids.map((m) => `${m}=127.0.0.1:${this.raftPort(m)}`).join(',');
    const p = spawn(
      process.execPath,
      [
        SERVER,
        '--id',
        id,
        '--peers',
        peers,
        '--client-port',
        String(this.basePort + 100 + this.ids.indexOf(id)),
        '--dir',
        this.dataDir(id),
        ...this.extraArgs,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.procs.set(id, p);
    this.errs.set(id, '');
    this.exits.delete(id);
    p.stderr!.on('data', (d: Buffer) => {
      this.errs.set(id, this.stderr(id) + d.toString());
      process.stderr.write(d);
    });
    p.once('exit', (code, signal) => {
      // Ended on its own (kill() removes it first): record how, and count it as not running.
      if (this.procs.get(id) !== p) return;
      this.procs.delete(id);
      this.exits.set(id, { code, signal });
    });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      p.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('ready')) resolve();
      });
      p.once('exit', (code) => reject(new Error(`${id} exited with ${code}`)));
    });
  }

  async startAll(): Promise<void> {
    await Promise.all(this.ids.map((id) => this.start(id)));
  }

  /** kill -9: nothing of the member keeps running, nothing is flushed. */
  async kill(id: string): Promise<void> {
    const p = this.procs.get(id);
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    this.procs.delete(id);
    p.kill('SIGKILL');
    await exited;
  }

  /** Sends a signal to a running member (SIGUSR2: write its trace, see server.ts). */
  signal(id: string, sig: NodeJS.Signals): void {
    this.procs.get(id)?.kill(sig);
  }

  running(id: string): boolean {
    return this.procs.has(id);
  }

  async status(id: string): Promise<MemberStatus | undefined> {
    try {
      const r = await httpCall(`${this.clientUrl(id)}/status`, 'GET', undefined, 500);
      return JSON.parse(r.body) as MemberStatus;
    } catch {
      return undefined;
    }
  }

  /** The member that leads with the highest term, among those running. */
  async leader(): Promise<string | undefined> {
    let best: MemberStatus | undefined;
    for (const id of this.ids) {
      if (!this.running(id)) continue;
      const s = await this.status(id);
      if (s?.isLeader && (!best || s.term > best.term)) best = s;
    }
    return best?.id;
  }

  async waitForLeader(timeoutMs = 20_000): Promise<string> {
    return pollLeader(this, timeoutMs);
  }

  async destroy(): Promise<void> {
    for (const id of [...this.procs.keys()]) await this.kill(id);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** What bench/raft needs of a 3-member group of processes, shoal's or etcd's. */
export interface ProcessGroup {
  readonly ids: string[];
  clientUrl(id: string): string;
  running(id: string): boolean;
  start(id: string): Promise<void>;
  startAll(): Promise<void>;
  kill(id: string): Promise<void>;
  leader(): Promise<string | undefined>;
  waitForLeader(timeoutMs?: number): Promise<string>;
}

export async function pollLeader(g: Pick<ProcessGroup, 'leader'>, timeoutMs: number): Promise<string> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const l = await g.leader();
    if (l) return l;
    if (Date.now() > end) throw new Error('no leader elected');
    await new Promise((r) => setTimeout(r, 20));
  }
}
