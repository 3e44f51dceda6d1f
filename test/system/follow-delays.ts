/**
 * How fast a client's view of a service follows its tasks. A watcher loop runs inside a client
 * container and logs, over and over, the time (the machine's /proc/uptime: one clock for every lab
 * host and container), the addresses `tasks.SERVICE` resolves to, and which task answered one new
 * connection to the service's VIP. Those lines are compared with the task containers' own start and
 * finish times from their engines, which share that clock.
 */

/**
 * Runs (detached) in the client container: one loop resolving `tasks.SERVICE` over and over (a 10 ms
 * pause between lookups keeps the embedded DNS from being flooded), and one
 * starting a new connection to the service's VIP every 50 ms, each in the background. A connection
 * to a backend that just died may hang until its 1 s timeout; started on a clock instead of one after
 * another, the others keep sampling meanwhile, so a hang neither hides when the VIP changed nor adds
 * its timeout to the figure. Each line starts with the time the attempt began; a connection's line
 * ends with the time it ended. `timeout`, since this
 * busybox's `wget -T` crashes.
 */
export function watcherScript(service: string, log: string): string {
  const dns =
    `while :; do t=$(cut -d' ' -f1 /proc/uptime); ` +
    `a=$(nslookup tasks.${service} 2>/dev/null | grep '^Address: 10\\.' | cut -d' ' -f2 | sort | tr '\\n' ,); ` +
    `echo "d|$t|$a" >> ${log}; sleep 0.01; done`;
  const attempt =
    `t=$(cut -d' ' -f1 /proc/uptime); ` +
    `h=$(timeout 1 wget -qO- http://${service}/ 2>/dev/null); echo "v|$t|$h|$(cut -d' ' -f1 /proc/uptime)" >> ${log}`;
  const vip = `while :; do (${attempt}) & sleep 0.05; done`;
  return `(${dns}) & (${vip}) & wait`;
}

export type Sample =
  /** Epoch milliseconds when the lookup began, and what `tasks.SERVICE` answered. */
  | { readonly kind: 'dns'; readonly at: number; readonly addresses: ReadonlySet<string> }
  /** When the connection began, the hostname of the task that answered ('' on failure), how long it took. */
  | { readonly kind: 'vip'; readonly at: number; readonly answeredBy: string; readonly tookMs?: number };

/** Parses the watcher's log, in time order; `bootEpochMs` is Date.now() − uptime, taken on this machine. */
export function parseSamples(log: string, bootEpochMs: number): Sample[] {
  return log
    .split('\n')
    .filter((l) => /^[dv]\|\d+\.\d+\|/.test(l))
    .map((l): Sample => {
      const [kind, t, v, end] = l.split('|');
      const at = bootEpochMs + Number(t) * 1000;
      if (kind === 'd') return { kind: 'dns', at, addresses: new Set((v ?? '').split(',').filter(Boolean)) };
      const answeredBy = (v ?? '').trim();
      return end
        ? { kind: 'vip', at, answeredBy, tookMs: Math.round((Number(end) - Number(t)) * 1000) }
        : { kind: 'vip', at, answeredBy };
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

/**
 * ms from `since` until the first sample satisfying `ok`, from which on every later one (before
 * `until`, when given) does too. `until` is the next task's start: a failure after it may be that
 * task's (not listening yet), not the change measured here; when the change had not settled by then,
 * every later sample counts.
 */
export function settledAfter<S extends Sample>(
  samples: readonly S[],
  since: number,
  ok: (s: S) => boolean,
  until = Infinity,
): number | undefined {
  let first: number | undefined;
  let last: S | undefined;
  for (const s of samples) {
    if (s.at < since || s.at >= until) continue;
    last = s;
    if (ok(s)) first ??= s.at;
    else first = undefined;
  }
  if (until !== Infinity && (last === undefined || !ok(last))) return settledAfter(samples, since, ok);
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

/** `until`: when the next task of the service started, if one did (see settledAfter). */
export function delaysOut(samples: readonly Sample[], c: TaskContainer, since: number, until?: number): Delays {
  return {
    dnsOut: settledAfter(dnsOf(samples), since, (s) => !s.addresses.has(c.address), until),
    lbOut: settledAfter(vipOf(samples), since, (s) => s.answeredBy !== '' && s.answeredBy !== c.hostname, until),
  };
}

/** The connections through the VIP that failed in [since, since + withinMs), and the slowest one's time. */
export function failuresAfter(
  samples: readonly Sample[],
  since: number,
  withinMs: number,
): { count: number; slowestMs: number | undefined } {
  const failed = vipOf(samples).filter(
    (s) => s.kind === 'vip' && s.at >= since && s.at < since + withinMs && s.answeredBy === '',
  );
  const took = failed.map((s) => (s.kind === 'vip' ? s.tookMs : undefined)).filter((t): t is number => t !== undefined);
  return { count: failed.length, slowestMs: took.length ? Math.max(...took) : undefined };
}
