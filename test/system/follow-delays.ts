/**
 * How fast a client's view of a service follows its tasks. A watcher loop runs inside a client
 * container and logs, over and over, the time (the machine's /proc/uptime: one clock for every lab
 * host and container), the addresses `tasks.SERVICE` resolves to, and which task answered one new
 * connection to the service's VIP. Those lines are compared with the task containers' own start and
 * finish times from their engines, which share that clock.
 */

/**
 * The loops run (detached) in the client container: one resolving `tasks.SERVICE` over and over, and
 * three opening a new connection to the service's VIP each (several, so that one stuck on a dead
 * backend for its 1 s timeout does not leave a gap). Each line starts with the time the attempt began.
 * `timeout`, since this busybox's `wget -T` crashes.
 */
export function watcherScript(service: string, log: string): string {
  const dns =
    `while :; do t=$(cut -d' ' -f1 /proc/uptime); ` +
    `a=$(nslookup tasks.${service} 2>/dev/null | grep '^Address: 10\\.' | cut -d' ' -f2 | sort | tr '\\n' ,); ` +
    `echo "d|$t|$a" >> ${log}; done`;
  const vip =
    `while :; do t=$(cut -d' ' -f1 /proc/uptime); ` +
    `h=$(timeout 1 wget -qO- http://${service}/ 2>/dev/null); echo "v|$t|$h" >> ${log}; done`;
  return `(${dns}) & (${vip}) & (${vip}) & (${vip}) & wait`;
}

export type Sample =
  /** Epoch milliseconds when the lookup began, and what `tasks.SERVICE` answered. */
  | { readonly kind: 'dns'; readonly at: number; readonly addresses: ReadonlySet<string> }
  /** When the connection began, and the hostname of the task that answered ('' on failure). */
  | { readonly kind: 'vip'; readonly at: number; readonly answeredBy: string };

/** Parses the watcher's log, in time order; `bootEpochMs` is Date.now() − uptime, taken on this machine. */
export function parseSamples(log: string, bootEpochMs: number): Sample[] {
  return log
    .split('\n')
    .filter((l) => /^[dv]\|\d+\.\d+\|/.test(l))
    .map((l): Sample => {
      const [kind, t, v] = l.split('|');
      const at = bootEpochMs + Number(t) * 1000;
      return kind === 'd'
        ? { kind: 'dns', at, addresses: new Set((v ?? '').split(',').filter(Boolean)) }
        : { kind: 'vip', at, answeredBy: (v ?? '').trim() };
    })
    .sort((a, b) => a.at - b.at);
}

export interface TaskContainer {
  readonly hostname: string;
  readonly address: string;
  /** Epoch ms; undefined when not started / still running. */
  readonly startedAt?: number;
  readonly finishedAt?: number;
}

/** ms from `since` until the first sample satisfying `ok`, from which on every later one does too. */
function settledAfter<S extends Sample>(
  samples: readonly S[],
  since: number,
  ok: (s: S) => boolean,
): number | undefined {
  let first: number | undefined;
  for (const s of samples) {
    if (s.at < since) continue;
    if (ok(s)) first ??= s.at;
    else first = undefined;
  }
  return first === undefined ? undefined : Math.max(0, first - since);
}

/** ms from `since` until the first sample satisfying `ok`. */
function firstAfter<S extends Sample>(samples: readonly S[], since: number, ok: (s: S) => boolean): number | undefined {
  const s = samples.find((x) => x.at >= since && ok(x));
  return s === undefined ? undefined : s.at - since;
}

export interface Delays {
  /** A started task: ms from its container's start until DNS lists it / the VIP first reaches it. */
  readonly dnsIn?: number;
  readonly lbIn?: number;
  /** A stopped task: ms from `since` until DNS no longer lists it / no VIP connection fails or reaches it. */
  readonly dnsOut?: number;
  readonly lbOut?: number;
}

const dnsOf = (xs: readonly Sample[]) => xs.filter((s) => s.kind === 'dns');
const vipOf = (xs: readonly Sample[]) => xs.filter((s) => s.kind === 'vip');

export function delaysIn(samples: readonly Sample[], c: TaskContainer): Delays {
  if (c.startedAt === undefined) return {};
  return {
    dnsIn: firstAfter(dnsOf(samples), c.startedAt, (s) => s.addresses.has(c.address)),
    lbIn: firstAfter(vipOf(samples), c.startedAt, (s) => s.answeredBy === c.hostname),
  };
}

export function delaysOut(samples: readonly Sample[], c: TaskContainer, since: number): Delays {
  return {
    dnsOut: settledAfter(dnsOf(samples), since, (s) => !s.addresses.has(c.address)),
    lbOut: settledAfter(vipOf(samples), since, (s) => s.answeredBy !== '' && s.answeredBy !== c.hostname),
  };
}
