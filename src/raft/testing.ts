/**
 * An in-memory cluster for Raft tests: each member's Ready is persisted to a memory "disk", its
 * messages go through a network that can drop, isolate and cut links, and committed entries are
 * applied in order. Used by the unit tests and the simulator.
 */
import { SeededRandom } from '../common/random.js';
import { decodeConfChange, Raft, type RaftConfig } from './raft.js';
import type { Entry, HardState, MemberId, Message, ReadState } from './types.js';

export interface MemDisk {
  hardState: HardState;
  entries: Entry[];
}

export class MemCluster {
  readonly nodes = new Map<MemberId, Raft>();
  readonly disks = new Map<MemberId, MemDisk>();
  readonly applied = new Map<MemberId, Entry[]>();
  readonly reads = new Map<MemberId, ReadState[]>();
  /** Links that drop everything: "a->b". */
  readonly cut = new Set<string>();
  readonly down = new Set<MemberId>();
  /** Message types to drop everywhere. */
  readonly ignore = new Set<Message['type']>();
  private queue: Message[] = [];

  constructor(
    ids: MemberId[],
    private readonly opts: Partial<RaftConfig> = {},
    seed = 1,
  ) {
    const random = new SeededRandom(seed);
    for (const id of ids) {
      this.disks.set(id, { hardState: { term: 0, vote: '', commit: 0 }, entries: [] });
      this.nodes.set(id, new Raft({ id, voters: ids, electionTick: 10, heartbeatTick: 1, random, ...opts }));
      this.applied.set(id, []);
      this.reads.set(id, []);
    }
  }

  node(id: MemberId): Raft {
    return this.nodes.get(id)!;
  }

  addMember(id: MemberId, voters: MemberId[], seed = 99): void {
    this.disks.set(id, { hardState: { term: 0, vote: '', commit: 0 }, entries: [] });
    this.nodes.set(
      id,
      new Raft({ id, voters, electionTick: 10, heartbeatTick: 1, random: new SeededRandom(seed), ...this.opts }),
    );
    this.applied.set(id, []);
    this.reads.set(id, []);
  }

  isolate(id: MemberId): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}->${other}`);
      this.cut.add(`${other}->${id}`);
    }
  }

  heal(): void {
    this.cut.clear();
  }

  leader(): Raft | undefined {
    const leaders = [...this.nodes.values()].filter((n) => n.role === 'leader' && !this.down.has(n.id));
    return leaders.sort((a, b) => b.term - a.term)[0];
  }

  /** Processes every Ready and delivers messages until nothing moves. */
  stabilize(maxRounds = 1000): void {
    for (let i = 0; i < maxRounds; i++) {
      let moved = false;
      for (const [id, n] of this.nodes) {
        if (this.down.has(id) || !n.hasReady()) continue;
        moved = true;
        this.process(id, n);
      }
      const batch = this.queue;
      this.queue = [];
      for (const m of batch) {
        if (this.down.has(m.to) || this.cut.has(`${m.from}->${m.to}`) || this.ignore.has(m.type)) continue;
        this.nodes.get(m.to)?.step(m);
        moved = true;
      }
      if (!moved) return;
    }
    throw new Error('cluster did not stabilize');
  }

  tickAll(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const [id, node] of this.nodes) if (!this.down.has(id)) node.tick();
      this.stabilize();
    }
  }

  /** Ticks until a leader exists (or gives up). */
  elect(maxTicks = 200): Raft {
    for (let i = 0; i < maxTicks; i++) {
      const l = this.leader();
      if (l && [...this.nodes.values()].every((n) => this.down.has(n.id) || this.cut.size > 0 || n.leader === l.id))
        return l;
      this.tickAll();
    }
    const l = this.leader();
    if (!l) throw new Error('no leader elected');
    return l;
  }

  private process(id: MemberId, n: Raft): void {
    const r = n.ready();
    const disk = this.disks.get(id)!;
    if (r.hardState) disk.hardState = { ...r.hardState };
    if (r.entries.length) {
      const first = r.entries[0]!.index;
      disk.entries = disk.entries.filter((e) => e.index < first).concat(r.entries);
    }
    n.advance(disk.entries.at(-1)?.index ?? 0);
    for (const e of r.committed) {
      this.applied.get(id)!.push(e);
      if (e.type === 'conf') n.applyConfChange(decodeConfChange(e.data));
      n.appliedTo(e.index);
    }
    this.reads.get(id)!.push(...r.readStates);
    this.queue.push(...r.messages);
  }
}

export const text = (s: string): Uint8Array => new TextEncoder().encode(s);
export const untext = (b: Uint8Array): string => new TextDecoder().decode(b);
