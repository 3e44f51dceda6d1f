/**
 * The Prometheus series of one daemon (docs/monitoring.md lists them). Each daemon has its own
 * prom-client registry, so several daemons in one process (tests) never share a series. Cluster
 * gauges and Raft state are read from the active runtime when scraped (collect callbacks); latencies
 * and counters come from the NodeInstruments the runtime's parts call.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { isSnapshotFile } from '../raft/snapshot-file.js';
import { TASK_STATES, type ServiceMode } from '../store/types.js';
import type { RaftNode } from '../raft/node.js';
import type { Store } from '../store/store.js';
import type { NodeInstruments } from './instruments.js';

/** Seconds, from 0.5 ms to 10 s: fsyncs, proposals, container starts, lateness. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const ENTRY_BUCKETS = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512];
const NODE_STATES = ['unknown', 'down', 'ready', 'disconnected'] as const;
const SERVICE_MODES = ['replicated', 'global', 'replicated-job', 'global-job'] as const;
const UPDATE_STATES = [
  'updating',
  'paused',
  'completed',
  'rollback_started',
  'rollback_paused',
  'rollback_completed',
] as const;

/** What the scrape-time series read: a manager's store, Raft member and manager (a runtime's `mgr`). */
export interface MetricsSource {
  readonly store: Pick<Store, 'view'>;
  readonly raft: Pick<RaftNode, 'debugState' | 'isLeader' | 'leader' | 'members' | 'peers'>;
  readonly manager: { readonly isLeader: boolean; readonly dispatcher: { readonly sessionCount: number } };
}

export class DaemonMetrics {
  readonly registry = new Registry();
  readonly instruments: NodeInstruments;

  /**
   * @param source this node's manager parts (none on a worker, out of the swarm, or locked)
   * @param raftDir where this node's Raft WAL and snapshots are (`<data root>/raft`)
   */
  constructor(
    private readonly source: () => MetricsSource | undefined,
    private readonly raftDir: string,
  ) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const store = (): MetricsSource | undefined => this.source();
    const raftNode = (): MetricsSource['raft'] | undefined => store()?.raft;

    // ---- cluster state, from this manager's store replica ----
    const nodes: Gauge<'state' | 'role' | 'availability'> = new Gauge({
      name: 'shoal_nodes',
      help: "Nodes in the swarm by status, role and availability (this manager's store).",
      labelNames: ['state', 'role', 'availability'],
      registers,
      collect: () => {
        nodes.reset();
        const all = store()?.store.view((tx) => tx.all('node'));
        if (!all) return;
        for (const state of NODE_STATES)
          for (const role of ['manager', 'worker'] as const)
            for (const availability of ['active', 'pause', 'drain'] as const)
              nodes.set(
                { state, role, availability },
                all.filter(
                  (n) => n.Status.State === state && n.Spec.Role === role && n.Spec.Availability === availability,
                ).length,
              );
      },
    });
    const services: Gauge<'mode'> = new Gauge({
      name: 'shoal_services',
      help: "Services by mode (this manager's store).",
      labelNames: ['mode'],
      registers,
      collect: () => {
        services.reset();
        const all = store()?.store.view((tx) => tx.all('service'));
        if (!all) return;
        for (const mode of SERVICE_MODES)
          services.set({ mode }, all.filter((s) => modeName(s.Spec.Mode) === mode).length);
      },
    });
    const desired: Gauge<'service'> = new Gauge({
      name: 'shoal_service_desired_replicas',
      help: 'Replicas a replicated service asks for, by service name.',
      labelNames: ['service'],
      registers,
      collect: () => {
        desired.reset();
        for (const s of store()?.store.view((tx) => tx.all('service')) ?? [])
          if ('Replicated' in s.Spec.Mode) desired.set({ service: s.Spec.Name }, s.Spec.Mode.Replicated.Replicas ?? 1);
      },
    });
    const tasks: Gauge<'state'> = new Gauge({
      name: 'shoal_tasks',
      help: "Tasks by observed state, every task the store still holds (this manager's store).",
      labelNames: ['state'],
      registers,
      collect: () => {
        tasks.reset();
        const all = store()?.store.view((tx) => tx.all('task'));
        if (!all) return;
        const count = new Map<string, number>(TASK_STATES.map((s) => [s, 0]));
        for (const t of all) count.set(t.Status.State, (count.get(t.Status.State) ?? 0) + 1);
        for (const [state, n] of count) tasks.set({ state }, n);
      },
    });
    const pending: Gauge<'reason'> = new Gauge({
      name: 'shoal_scheduler_pending_tasks',
      help: 'Pending tasks by why the scheduler left them there (numbers in the reason replaced by N).',
      labelNames: ['reason'],
      registers,
      collect: () => {
        pending.reset();
        const all = store()?.store.view((tx) => tx.all('task'));
        if (!all) return;
        for (const t of all) {
          if (t.Status.State !== 'pending' || t.DesiredState !== 'running') continue;
          const reason = t.Status.Err ? t.Status.Err.replace(/\d+/g, 'N') : 'not scheduled yet';
          pending.inc({ reason });
        }
      },
    });
    const schedulingDelay = new Histogram({
      name: 'shoal_scheduler_delay_seconds',
      help: 'From a task created to its assignment to a node by the scheduler (on the leader).',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    const updates: Gauge<'state'> = new Gauge({
      name: 'shoal_service_updates',
      help: 'Services by the state of their last rolling update or rollback (UpdateStatus.State).',
      labelNames: ['state'],
      registers,
      collect: () => {
        updates.reset();
        const all = store()?.store.view((tx) => tx.all('service'));
        if (!all) return;
        for (const state of UPDATE_STATES)
          updates.set({ state }, all.filter((s) => s.UpdateStatus?.State === state).length);
      },
    });

    // ---- Raft ----
    const raftGauge = (name: string, help: string, read: (r: NonNullable<ReturnType<typeof raftNode>>) => number) => {
      const g: Gauge = new Gauge({
        name,
        help,
        registers,
        collect: () => {
          g.reset();
          const r = raftNode();
          if (r) g.set(read(r));
        },
      });
    };
    raftGauge('shoal_raft_term', 'Current Raft term of this manager.', (r) => r.debugState().term);
    raftGauge('shoal_raft_is_leader', '1 if this manager is the Raft leader, else 0.', (r) => (r.isLeader ? 1 : 0));
    raftGauge('shoal_raft_has_leader', '1 if this manager knows a leader, else 0.', (r) => (r.leader ? 1 : 0));
    raftGauge('shoal_raft_commit_index', 'Highest Raft log index known committed.', (r) => r.debugState().commit);
    raftGauge(
      'shoal_raft_applied_index',
      'Highest Raft log index applied to the store here.',
      (r) => r.debugState().applied,
    );
    raftGauge(
      'shoal_raft_voters',
      'Voting members of the Raft group as this manager applies it.',
      (r) => r.members().voters.length,
    );
    const peers: Gauge<'reachable'> = new Gauge({
      name: 'shoal_raft_peers',
      help: 'Raft members by whether the leader heard from them within an election timeout (leader only; includes itself).',
      labelNames: ['reachable'],
      registers,
      collect: () => {
        peers.reset();
        const r = raftNode();
        if (!r?.isLeader) return;
        const all = r.peers();
        peers.set({ reachable: 'true' }, all.filter((p) => p.reachable).length);
        peers.set({ reachable: 'false' }, all.filter((p) => !p.reachable).length);
      },
    });
    const disk = (name: string, help: string, dir: () => string, match: (f: string) => boolean) => {
      const g: Gauge = new Gauge({
        name,
        help,
        registers,
        collect: async () => {
          g.reset();
          if (!raftNode()) return;
          g.set(await bytesIn(dir(), match));
        },
      });
    };
    disk(
      'shoal_raft_wal_bytes',
      'Bytes of Raft WAL segments on disk.',
      () => path.join(this.raftDir, 'wal'),
      (f) => /^wal-\d+\.log$/.test(f),
    );
    disk('shoal_raft_snapshot_bytes', 'Bytes of Raft snapshot files on disk.', () => this.raftDir, isSnapshotFile);
    const leaderChanges = new Counter({
      name: 'shoal_raft_leader_changes_total',
      help: 'Times this manager learned of a new leader (the first after starting included).',
      registers,
    });
    const proposals = new Histogram({
      name: 'shoal_raft_proposal_commit_duration_seconds',
      help: "From this manager's proposal to its entry committed by a quorum and applied here.",
      buckets: LATENCY_BUCKETS,
      registers,
    });
    const fsync = new Histogram({
      name: 'shoal_raft_wal_fsync_duration_seconds',
      help: 'One Raft WAL append: write plus fdatasync.',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    const perSync = new Histogram({
      name: 'shoal_raft_wal_fsync_entries',
      help: 'Log entries made durable by one WAL fsync (batching).',
      buckets: ENTRY_BUCKETS,
      registers,
    });
    const ticks = new Histogram({
      name: 'shoal_raft_tick_lateness_seconds',
      help: 'How late each Raft tick fired past its period: a blocked event loop.',
      buckets: LATENCY_BUCKETS,
      registers,
    });

    // ---- dispatcher (leader) ----
    const sessions: Gauge = new Gauge({
      name: 'shoal_dispatcher_sessions',
      help: "Agent sessions open on this manager's dispatcher (the leader's; 0 elsewhere).",
      registers,
      collect: () => {
        sessions.reset();
        const m = store()?.manager;
        if (m) sessions.set(m.isLeader ? m.dispatcher.sessionCount : 0);
      },
    });
    const heartbeats = new Histogram({
      name: 'shoal_dispatcher_heartbeat_lateness_seconds',
      help: 'How late each agent heartbeat reached the dispatcher past the heartbeat period.',
      buckets: LATENCY_BUCKETS,
      registers,
    });

    // ---- agent (every node) ----
    const starts = new Histogram({
      name: 'shoal_agent_container_start_duration_seconds',
      help: "The runtime engine's container start call for a task.",
      buckets: LATENCY_BUCKETS,
      registers,
    });
    const failures = new Counter({
      name: 'shoal_agent_task_failures_total',
      help: 'Tasks on this node that ended failed (after starting) or rejected (before).',
      labelNames: ['state'],
      registers,
    });
    for (const state of ['failed', 'rejected']) failures.inc({ state }, 0);

    this.instruments = {
      raft: {
        walSync: (s, n) => {
          fsync.observe(s);
          perSync.observe(n);
        },
        proposalApplied: (s) => proposals.observe(s),
        leaderChanged: () => leaderChanges.inc(),
        tickLateness: (s) => ticks.observe(s),
      },
      agent: {
        containerStarted: (s) => starts.observe(s),
        taskFailed: (state) => failures.inc({ state }),
      },
      heartbeatLateness: (s) => heartbeats.observe(s),
      schedulingDelay: (s) => schedulingDelay.observe(s),
    };
  }

  /** The exposition text and its content type. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

function modeName(m: ServiceMode): (typeof SERVICE_MODES)[number] {
  if ('Replicated' in m) return 'replicated';
  if ('Global' in m) return 'global';
  if ('ReplicatedJob' in m) return 'replicated-job';
  return 'global-job';
}

/** Total size of the matching files in `dir` (0 if it does not exist). */
async function bytesIn(dir: string, match: (f: string) => boolean): Promise<number> {
  let total = 0;
  let files: string[];
  try {
    files = await readdir(dir);
  } catch {
    return 0;
  }
  for (const f of files.filter(match)) {
    try {
      total += (await stat(path.join(dir, f))).size;
    } catch {
      // removed between readdir and stat (a WAL cut): it no longer counts
    }
  }
  return total;
}
