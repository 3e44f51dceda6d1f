/**
 * Swarm events as `docker events` shows them: node, service, network, secret and config changes
 * committed to this manager's store, each with Docker's Type, Action, Actor and `scope: swarm`, and
 * on updates the attributes Docker adds (`replicas.old/new`, `image.old/new`, `updatestate.old/new`
 * for services; `state`, `role`, `availability` for nodes). Tasks and the cluster object give none.
 */
import type { StoreEvent } from '../../store/actions.js';
import type { Store } from '../../store/store.js';
import { TABLES, type NodeObject, type ServiceObject } from '../../store/types.js';

export type SwarmEventType = 'service' | 'node' | 'network' | 'secret' | 'config';

export interface SwarmEvent {
  Type: SwarmEventType;
  Action: 'create' | 'update' | 'remove';
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'swarm';
  /** Seconds and nanoseconds since the epoch. */
  time: number;
  timeNano: number;
}

const TYPES: ReadonlySet<string> = new Set<SwarmEventType>(['service', 'node', 'network', 'secret', 'config']);

interface Named {
  ID: string;
  Spec?: { Name?: string };
  CreatedAt: number;
  UpdatedAt: number;
}

function nameOf(table: string, o: Named): string {
  if (table === 'node') {
    const n = o as unknown as NodeObject;
    return n.Spec.Name || n.Description.Hostname;
  }
  return o.Spec?.Name ?? '';
}

/** The event one store change makes (Docker's logServiceEvent/logNodeEvent), or undefined. */
export function swarmEventOf(
  e: Exclude<StoreEvent, { kind: 'commit' }>,
  before: unknown,
  nowMs: number,
): SwarmEvent | undefined {
  if (!TYPES.has(e.table)) return undefined;
  const o = e.object as unknown as Named;
  const action = e.kind === 'delete' ? 'remove' : e.kind;
  const attributes: Record<string, string> = { name: nameOf(e.table, o) };
  if (action === 'update' && before) {
    if (e.table === 'service')
      serviceChanges(before as ServiceObject, e.object as unknown as ServiceObject, attributes);
    if (e.table === 'node') nodeChanges(before as NodeObject, e.object as unknown as NodeObject, attributes);
  }
  // Docker stamps creates and updates with the object's own times, removals with the present.
  const ms = action === 'create' ? o.CreatedAt : action === 'update' ? o.UpdatedAt : nowMs;
  return {
    Type: e.table as SwarmEventType,
    Action: action,
    Actor: { ID: o.ID, Attributes: attributes },
    scope: 'swarm',
    time: Math.floor(ms / 1000),
    timeNano: ms * 1e6,
  };
}

function serviceChanges(old: ServiceObject, cur: ServiceObject, a: Record<string, string>): void {
  const oldImage = old.Spec.TaskTemplate.ContainerSpec?.Image;
  const image = cur.Spec.TaskTemplate.ContainerSpec?.Image;
  if (oldImage !== image && oldImage !== undefined && image !== undefined) {
    a['image.old'] = oldImage;
    a['image.new'] = image;
  }
  if ('Replicated' in old.Spec.Mode && 'Replicated' in cur.Spec.Mode) {
    const [was, is] = [old.Spec.Mode.Replicated.Replicas ?? 1, cur.Spec.Mode.Replicated.Replicas ?? 1];
    if (was !== is) {
      a['replicas.old'] = String(was);
      a['replicas.new'] = String(is);
    }
  }
  const [was, is] = [old.UpdateStatus?.State, cur.UpdateStatus?.State];
  if (is !== undefined && was === undefined) a['updatestate.new'] = is;
  else if (is !== undefined && was !== is) {
    a['updatestate.old'] = was!;
    a['updatestate.new'] = is;
  }
}

function nodeChanges(old: NodeObject, cur: NodeObject, a: Record<string, string>): void {
  const pairs: [string, string, string][] = [
    ['state', old.Status.State, cur.Status.State],
    ['role', old.Spec.Role, cur.Spec.Role],
    ['availability', old.Spec.Availability, cur.Spec.Availability],
  ];
  for (const [k, was, is] of pairs) {
    if (was === is) continue;
    a[`${k}.old`] = was;
    a[`${k}.new`] = is;
  }
}

/**
 * Follows the store and calls back with each swarm event. It keeps the last version of every
 * object it reports on, since an update's attributes compare it with the one before.
 */
export function watchSwarmEvents(store: Store, now: () => number, emit: (e: SwarmEvent) => void): () => void {
  const last = new Map<string, unknown>();
  const key = (table: string, id: string): string => `${table}/${id}`;
  store.view((tx) => {
    for (const t of TABLES) if (TYPES.has(t)) for (const o of tx.all(t)) last.set(key(t, o.ID), o);
  });
  return store.watch((events) => {
    for (const e of events) {
      if (e.kind === 'commit' || !TYPES.has(e.table)) continue;
      const k = key(e.table, e.object.ID);
      const ev = swarmEventOf(e, last.get(k), now());
      if (e.kind === 'delete') last.delete(k);
      else last.set(k, e.object);
      if (ev) emit(ev);
      // swarmkit creates a network, then its allocator writes the allocation: Docker shows a create
      // and then an update. shoal allocates in the create transaction, so it reports both at once.
      if (ev?.Type === 'network' && ev.Action === 'create')
        emit({ ...ev, Action: 'update', Actor: { ID: ev.Actor.ID, Attributes: { ...ev.Actor.Attributes } } });
    }
  });
}

/** How many recent swarm events a manager keeps for `docker events --since`. */
const RECENT_EVENTS = 1024;

/** A manager's swarm events: the recent ones (for `--since`) and the live feed. */
export class SwarmEventLog {
  private readonly recent: SwarmEvent[] = [];
  private readonly listeners = new Set<(e: SwarmEvent) => void>();
  private readonly stop: () => void;

  constructor(store: Store, now: () => number) {
    this.stop = watchSwarmEvents(store, now, (e) => {
      this.recent.push(e);
      if (this.recent.length > RECENT_EVENTS) this.recent.shift();
      for (const l of this.listeners) l(e);
    });
  }

  /** Recent events from `sinceSec` on (seconds since the epoch). */
  since(sinceSec: number): SwarmEvent[] {
    return this.recent.filter((e) => e.timeNano / 1e9 >= sinceSec);
  }

  subscribe(listener: (e: SwarmEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.stop();
    this.listeners.clear();
  }
}
