/**
 * Reads `/metrics` text the way a Prometheus server would, for tests. The text goes through
 * prom2javascript (a strict parser of the text format: it rejects malformed lines and labels, and a
 * histogram whose +Inf bucket differs from its count), then through checks it leaves out: every
 * family has # TYPE and # HELP, names and label names are valid, no family appears twice, buckets
 * are cumulative. prom2javascript 0.2.0 reads no NaN, which the format allows (prom-client writes an
 * empty event-loop gauge as `Nan`, which Prometheus's Go parser takes in any case): such a line is
 * checked here against the sample grammar and handed to the parser as 0.
 */
import { Readable } from 'node:stream';
import { getMetricsFromStream, type PromHistogramData, type PromLabels } from 'prom2javascript';

export interface PromSample {
  labels: PromLabels;
  /** Counters and gauges. */
  value?: number;
  /** Histograms: upper bound → cumulative count. */
  buckets?: Record<string, number>;
  count?: number;
  sum?: number;
}

export interface PromFamily {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary';
  help: string;
  samples: PromSample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const NAN_SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})?) nan$/i;

/** Parses and validates exposition text; returns the families by name. Throws on the first problem. */
export async function parseMetrics(text: string): Promise<Map<string, PromFamily>> {
  const seen = new Set<string>();
  const lines = text.split('\n').map((line) => {
    const m = /^# (TYPE|HELP) (\S+)/.exec(line);
    if (m?.[1] === 'TYPE') {
      if (seen.has(m[2]!)) throw new Error(`family ${m[2]} appears twice`);
      seen.add(m[2]!);
    }
    const nan = NAN_SAMPLE.exec(line);
    return nan ? `${nan[1]} 0` : line;
  });
  const parsed = await getMetricsFromStream(Readable.from([lines.join('\n')]));
  const out = new Map<string, PromFamily>();
  for (const [name, f] of Object.entries(parsed)) {
    if (!NAME.test(name)) throw new Error(`bad metric name ${name}`);
    if (!['counter', 'gauge', 'histogram', 'summary'].includes(f.type)) throw new Error(`${name} has no # TYPE line`);
    if (!f.help) throw new Error(`${name} has no # HELP text`);
    const samples: PromSample[] = [];
    for (const d of f.data) {
      for (const l of Object.keys(d.labels)) if (!LABEL.test(l)) throw new Error(`${name}: bad label ${l}`);
      if (f.type === 'histogram') {
        const h = d as PromHistogramData;
        const bounds = Object.entries(h.buckets)
          .map(([le, c]) => [le === '+Inf' ? Infinity : Number(le), c] as const)
          .sort((a, b) => a[0] - b[0]);
        for (let i = 1; i < bounds.length; i++)
          if (bounds[i]![1] < bounds[i - 1]![1]) throw new Error(`${name}: buckets not cumulative`);
        if (h.sum === undefined) throw new Error(`${name}: no _sum`);
        samples.push({ labels: h.labels, buckets: h.buckets, count: h.count, sum: h.sum });
      } else if ('value' in d) samples.push({ labels: d.labels, value: d.value });
      else samples.push({ labels: d.labels, count: d.count, sum: d.sum });
    }
    out.set(name, { name, type: f.type as PromFamily['type'], help: f.help, samples });
  }
  for (const name of seen) if (!out.has(name)) throw new Error(`${name}: declared but not parsed`);
  return out;
}

/** The value (a histogram's count) of the sample of `name` whose labels include `labels`. */
export function sampleValue(
  families: Map<string, PromFamily>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const m = families.get(name)?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return m?.value ?? m?.count;
}
