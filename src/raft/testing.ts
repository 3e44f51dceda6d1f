/**
 * The in-memory Raft driver for tests: whole RaftNodes (their Ready loop, WAL and snapshot files)
 * on simulated disks (sim-disk.ts), one virtual clock and a network that can cut links, so a
 * scripted test runs the same code a manager runs, deterministically and without sleeping. The
 * simulator (test/sim/node-sim.ts) builds on the same parts.
 */
import { VirtualClock, type Clock } from '../common/clock.js';
import { silentLogger } from '../common/logging.js';
import { SeededRandom } from '../common/random.js';
import { plainCipher } from './cipher.js';
import { RaftNode, type RaftNodeOptions, type StateMachine } from './node.js';
import { NO_FAULTS, SimDisk } from './sim-disk.js';
import type { MemberId, Message } from './types.js';

/** A process's view of the shared virtual clock: its timers die with it and wait while it is paused. */
export class ProcessClock implements Clock {
  private cancels = new Set<() => void>();
  dead = false;
  pausedUntil = 0;

  constructor(private readonly clock: Clock) {}

  now(): number {
    return this.clock.now();
  }

  setTimer(ms: number, fn: () => void): () => void {
    if (this.dead) return () => undefined;
    let cancel = (): void => undefined;
    const arm = (delay: number): void => {
      this.cancels.delete(cancel);
      cancel = this.clock.setTimer(delay, () => {
        this.cancels.delete(cancel);
        if (this.dead) return;
        if (this.pausedUntil > this.clock.now()) arm(this.pausedUntil - this.clock.now());
        else fn();
      });
      this.cancels.add(cancel);
    };
    arm(ms);
    return () => {
      this.cancels.delete(cancel);
      cancel();
    };
  }

  kill(): void {
    this.dead = true;
    for (const c of this.cancels) c();
    this.cancels.clear();
  }
}

/** Lets every promise chain and setImmediate that work started run (nothing here touches real I/O). */
export async function settle(turns = 30): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((r) => setImmediate(r));
}

/** A state machine that records the normal entries it applies, as text. */
export class TextLog implements StateMachine {
  items: string[] = [];

  apply(_index: number, data: Uint8Array): void {
    this.items.push(untext(data));
  }

  snapshot(): AsyncIterable<Uint8Array> {
    const data = text(JSON.stringify(this.items));
    return (async function* () {
      yield data;
    })();
  }

  async restore(_index: number, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    let s = '';
    for await (const c of chunks) s += untext(c);
    this.items = JSON.parse(s) as string[];
  }
}

interface SimMember {
  id: MemberId;
  disk: SimDisk;
  voters: MemberId[];
  node: RaftNode | undefined;
  clock: ProcessClock | undefined;
  sm: TextLog;
  handler: ((m: Message) => void) | undefined;
}

export const TICK_MS = 10;

/** Per-member option overrides (a shorter election timeout makes a member campaign first). */
export type MemberOptions = Partial<
  Pick<RaftNodeOptions, 'electionTick' | 'snapshotInterval' | 'keepEntries' | 'forceNewCluster'>
>;

export class SimCluster {
  readonly clock = new VirtualClock(0);
  /** Links that drop everything: "a->b". */
  readonly cut = new Set<string>();
  /** Message types dropped everywhere. */
  readonly ignore = new Set<Message['type']>();
  private readonly members = new Map<MemberId, SimMember>();
  private readonly rng: SeededRandom;

  constructor(
    ids: MemberId[],
    private readonly opts: MemberOptions & { seed?: number; perMember?: Record<MemberId, MemberOptions> } = {},
    /** Who was told by whom that it was removed ("by->member"). */
    readonly removedNotices: string[] = [],
  ) {
    this.rng = new SeededRandom(opts.seed ?? 1);
    for (const id of ids) this.add(id, ids);
  }

  /** A member with an empty disk that starts with `voters` as its bootstrap membership. */
  add(id: MemberId, voters: MemberId[]): SimDisk {
    const disk = new SimDisk(new SeededRandom(this.rng.int(2 ** 31)), this.clock, TICK_MS, { ...NO_FAULTS });
    this.members.set(id, {
      id,
      disk,
      voters,
      node: undefined,
      clock: undefined,
      sm: new TextLog(),
      handler: undefined,
    });
    return disk;
  }

  disk(id: MemberId): SimDisk {
    return this.get(id).disk;
  }

  private get(id: MemberId): SimMember {
    const m = this.members.get(id);
    if (!m) throw new Error(`no member ${id}`);
    return m;
  }

  /** Starts the members given (default: all not running) on their disks. */
  async start(...ids: MemberId[]): Promise<void> {
    await this.startWith({}, ...ids);
  }

  /** Starts members with option overrides (a forced new cluster, for one). */
  async startWith(over: MemberOptions, ...ids: MemberId[]): Promise<void> {
    for (const id of ids)
      this.opts.perMember = { ...this.opts.perMember, [id]: { ...this.opts.perMember?.[id], ...over } };
    const which = ids.length ? ids : [...this.members.keys()].filter((id) => !this.members.get(id)!.node);
    const starts = which.map((id) => this.startOne(this.get(id)));
    for (const p of starts) p.catch(() => undefined); // awaited below, after the disks have answered
    await settle();
    await Promise.all(starts);
  }

  private startOne(m: SimMember): Promise<void> {
    const clock = new ProcessClock(this.clock);
    m.sm = new TextLog();
    const own = this.opts.perMember?.[m.id] ?? {};
    const node = new RaftNode({
      id: m.id,
      voters: m.voters,
      dir: `/${m.id}`,
      tickMs: TICK_MS,
      electionTick: own.electionTick ?? this.opts.electionTick ?? (() => 10),
      heartbeatTick: () => 1,
      snapshotInterval: own.snapshotInterval ?? this.opts.snapshotInterval ?? (() => 1_000_000),
      keepEntries: own.keepEntries ?? this.opts.keepEntries ?? (() => 0),
      snapshotPartBytes: 64,
      forceNewCluster: own.forceNewCluster ?? false,
      onRemoved: (by) => this.removedNotices.push(`${by}->${m.id}`),
      sm: m.sm,
      cipher: plainCipher,
      random: new SeededRandom(this.rng.int(2 ** 31)),
      logger: silentLogger,
      fs: m.disk.fs(),
      clock,
      transport: {
        send: (msgs) => {
          if (m.clock === clock) this.send(msgs);
        },
        onMessage: (h) => {
          if (m.clock === clock) m.handler = h;
        },
      },
    });
    m.node = node;
    m.clock = clock;
    return node.start();
  }

  /** The process dies (no power loss: the page cache survives unless `powerLoss`). */
  crash(id: MemberId, powerLoss = false): void {
    const m = this.get(id);
    m.clock?.kill();
    m.clock = undefined;
    m.node = undefined;
    m.handler = undefined;
    m.disk.crash(powerLoss);
  }

  node(id: MemberId): RaftNode {
    const n = this.get(id).node;
    if (!n) throw new Error(`${id} is not running`);
    return n;
  }

  /** The normal entries `id` has applied, as text. */
  applied(id: MemberId): string[] {
    return this.get(id).sm.items;
  }

  ids(): MemberId[] {
    return [...this.members.keys()];
  }

  running(): RaftNode[] {
    return [...this.members.values()].flatMap((m) => (m.node ? [m.node] : []));
  }

  isolate(id: MemberId): void {
    for (const other of this.members.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}->${other}`);
      this.cut.add(`${other}->${id}`);
    }
  }

  heal(): void {
    this.cut.clear();
  }

  /** The running leader of the highest term. */
  leader(): RaftNode | undefined {
    return this.running()
      .filter((n) => n.isLeader)
      .sort((a, b) => b.debugState().term - a.debugState().term)[0];
  }

  /** Advances virtual time by `n` ticks, letting every node work after each. */
  async tick(n = 1): Promise<void> {
    for (let i = 0; i < n; i++) {
      this.clock.advance(TICK_MS);
      await settle();
    }
  }

  /** Ticks until a leader exists that every running, reachable member follows. */
  async elect(maxTicks = 200): Promise<RaftNode> {
    for (let i = 0; i < maxTicks; i++) {
      const l = this.leader();
      if (l && (this.cut.size > 0 || this.running().every((n) => n.leader === l.leader))) return l;
      await this.tick();
    }
    const l = this.leader();
    if (!l) throw new Error('no leader elected');
    return l;
  }

  /** Proposes on `node` and ticks until it is applied there (or fails). */
  async propose(node: RaftNode, value: string, maxTicks = 50): Promise<number> {
    const p = node.propose(text(value));
    let done = false;
    p.then(
      () => (done = true),
      () => (done = true),
    );
    for (let i = 0; i < maxTicks && !done; i++) await this.tick();
    return p;
  }

  /** Every process stops (its timers go); call at the end of a test. */
  stop(): void {
    for (const id of this.members.keys()) if (this.get(id).node) this.crash(id);
  }

  /** Messages are delivered on the next tick, in order, unless a link is cut. */
  private send(msgs: readonly Message[]): void {
    for (const msg of msgs) {
      if (this.ignore.has(msg.type)) continue;
      this.clock.setTimer(TICK_MS / 2, () => {
        const to = this.members.get(msg.to);
        if (!to?.handler || this.cut.has(`${msg.from}->${msg.to}`)) return;
        to.handler(msg);
      });
    }
  }
}

export const text = (s: string): Uint8Array => new TextEncoder().encode(s);
export const untext = (b: Uint8Array): string => new TextDecoder().decode(b);
