/**
 * `GET /events`: the runtime engine's own events merged with this manager's swarm events (node,
 * service, network, secret, config; `scope: swarm`), filtered as Docker filters them, from `since`
 * (the manager keeps its recent swarm events) until `until` or until the client goes away.
 */
import type { SwarmEvent } from '../manager/controlapi/events.js';
import type { NodeApi } from '../manager/controlapi/node-api.js';
import type { EngineInfo } from './engine-info.js';
import { badRequest } from './errors.js';
import { parseFilters, type Filters } from './filters.js';
import type { Router } from './router.js';

const EVENT_FILTERS = [
  'config',
  'container',
  'daemon',
  'event',
  'image',
  'label',
  'network',
  'node',
  'plugin',
  'scope',
  'secret',
  'service',
  'type',
  'volume',
];
const NAMED_KEYS = [
  'config',
  'container',
  'daemon',
  'image',
  'network',
  'node',
  'plugin',
  'secret',
  'service',
  'volume',
];

/** Docker's `since`/`until`: seconds since the epoch, with an optional fraction. */
function timeParam(v: string | null, name: string): number | undefined {
  if (v === null || v === '') return undefined;
  if (!/^\d+(\.\d+)?$/.test(v)) throw badRequest(`invalid value for ${name}: ${v}`);
  return Number(v);
}

/** A filter key absent, or one of its values equal to (or a prefix of) the event's ID or name. */
function fuzzy(f: Filters, key: string, e: SwarmEvent): boolean {
  const values = f.get(key);
  if (!values?.length) return true;
  return values.some((v) => e.Actor.ID.startsWith(v) || (e.Actor.Attributes.name ?? '').startsWith(v));
}

function exact(f: Filters, key: string, value: string): boolean {
  const values = f.get(key);
  return !values?.length || values.includes(value);
}

/** Docker's events filter (moby events/filter.go) for a swarm event. */
export function swarmEventMatches(f: Filters, e: SwarmEvent): boolean {
  if (!exact(f, 'event', e.Action) || !exact(f, 'type', e.Type) || !exact(f, 'scope', e.scope)) return false;
  for (const key of NAMED_KEYS) if (!fuzzy(f, key, e)) return false;
  const labels = f.get('label');
  if (labels?.length) {
    return labels.every((l) => {
      const i = l.indexOf('=');
      const k = i < 0 ? l : l.slice(0, i);
      return Object.hasOwn(e.Actor.Attributes, k) && (i < 0 || e.Actor.Attributes[k] === l.slice(i + 1));
    });
  }
  return true;
}

export function eventRoutes(r: Router, node: NodeApi, engine: EngineInfo): void {
  r.on('GET', '/events', async (c) => {
    const f = parseFilters(c.query.get('filters'), EVENT_FILTERS);
    const since = timeParam(c.query.get('since'), 'since');
    const until = timeParam(c.query.get('until'), 'until');
    const feed = node.swarmEvents();
    const scopes = f.get('scope') ?? [];
    const wantSwarm = feed !== undefined && (scopes.length === 0 || scopes.includes('swarm'));
    const wantLocal = scopes.length === 0 || scopes.includes('local');
    const ac = new AbortController();
    c.res.on('close', () => ac.abort());
    c.res.writeHead(200, { 'Content-Type': 'application/json' });
    c.res.flushHeaders();
    const write = (line: string): void => {
      if (!ac.signal.aborted) c.res.write(`${line}\n`);
    };
    const inTime = (e: SwarmEvent): boolean => until === undefined || e.timeNano / 1e9 <= until;
    const done: Promise<void>[] = [];
    if (wantSwarm) {
      for (const e of since !== undefined ? feed.since(since) : [])
        if (inTime(e) && swarmEventMatches(f, e)) write(JSON.stringify(e));
      if (until === undefined || until > Date.now() / 1000) {
        const unsubscribe = feed.subscribe((e) => {
          if (inTime(e) && swarmEventMatches(f, e)) write(JSON.stringify(e));
        });
        done.push(
          new Promise<void>((resolve) => {
            const end = (): void => {
              unsubscribe();
              resolve();
            };
            ac.signal.addEventListener('abort', end, { once: true });
            if (until !== undefined) setTimeout(end, until * 1000 - Date.now()).unref();
          }),
        );
      }
    }
    if (wantLocal) {
      // The engine applies the same query to its own events (it knows nothing of swarm ones).
      done.push(
        (async () => {
          try {
            for await (const line of engine.lines(`/events?${c.query.toString()}`, ac.signal)) write(line);
          } catch {
            // the engine's stream ended or the client went away
          }
        })(),
      );
    }
    // The answer ends when every part has ended (an `until` in the past ends it at once).
    await Promise.all(done);
    ac.abort();
    c.res.end();
  });
}
