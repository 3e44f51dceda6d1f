/**
 * docs/grafana/shoal-dashboard.json: it parses, its panels are laid out and unique, and every
 * series its PromQL names is one a daemon exports (read from a real scrape), with label matchers
 * only on labels that series has.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { Harness } from '../manager/testing/harness.js';
import { DaemonMetrics } from './metrics.js';
import { parseMetrics } from './testing/prom-text.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const DASHBOARD = path.join(ROOT, 'docs/grafana/shoal-dashboard.json');

/** PromQL words that are not series: functions are told apart by the '(' after them. */
const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'offset',
  'bool',
  'inf',
  'nan',
]);

/** The series an expression reads, with the label names its matchers use. */
function seriesOf(expr: string): { name: string; labels: string[] }[] {
  const out: { name: string; labels: string[] }[] = [];
  const bare = expr
    .replace(/\[[^\]]*\]/g, ' ') // range selectors
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' '); // grouping labels
  const re = /([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?\s*(\()?/g;
  for (let m = re.exec(bare); m; m = re.exec(bare)) {
    const [, name, matchers, call] = m;
    if (call || KEYWORDS.has(name!.toLowerCase()) || /^\d/.test(name!)) continue;
    const labels = [...(matchers ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"/g)].map((l) => l[1]!);
    out.push({ name: name!, labels });
  }
  return out;
}

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: { expr: string; refId: string }[];
}

describe('grafana dashboard', () => {
  it('finds series in PromQL', () => {
    assert.deepEqual(
      seriesOf('histogram_quantile(0.99, sum by (instance, le) (rate(a_bucket{x="1", y=~"z"}[5m]))) / b'),
      [
        { name: 'a_bucket', labels: ['x', 'y'] },
        { name: 'b', labels: [] },
      ],
    );
  });

  it('uses only series the daemon exports, on labels they have', async () => {
    const dash = JSON.parse(await readFile(DASHBOARD, 'utf8')) as { title: string; uid: string; panels: Panel[] };
    assert.ok(dash.title && dash.uid);
    const families = await exportedSeries();
    const ids = new Set<number>();
    let exprs = 0;
    for (const p of dash.panels) {
      assert.ok(!ids.has(p.id), `panel id ${p.id} twice`);
      ids.add(p.id);
      assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${p.title} is wider than the grid`);
      if (p.type === 'row') continue;
      assert.ok(p.targets?.length, `${p.title} has no query`);
      for (const t of p.targets) {
        const used = seriesOf(t.expr);
        assert.ok(used.length > 0, `${p.title}: ${t.expr} reads no series`);
        for (const { name, labels } of used) {
          const known = families.get(name);
          assert.ok(known, `${p.title}: ${name} is not exported by the daemon`);
          for (const l of labels) assert.ok(known.has(l), `${p.title}: ${name} has no label ${l}`);
        }
        exprs++;
      }
    }
    assert.ok(exprs >= 20, `only ${exprs} queries`);
  });
});

/** Series name → label names, from a scrape of a leader's daemon with every series holding a sample. */
async function exportedSeries(): Promise<Map<string, Set<string>>> {
  const h = new Harness();
  await h.start();
  await h.addNode({ hostname: 'n1' });
  await h.createService({
    Name: 'pinned',
    TaskTemplate: { ContainerSpec: { Image: 'img:1' }, Placement: { Constraints: ['node.labels.zone==nowhere'] } },
  });
  await h.run(500);
  h.stop();
  const m = new DaemonMetrics(
    () => ({
      store: h.store,
      raft: {
        debugState: () => ({ role: 'leader', term: 1, commit: 1, applied: 1, first: 1, last: 1, progress: {} }),
        isLeader: true,
        leader: 'm1',
        members: () => ({ voters: ['m1'], learners: [] }),
        peers: () => [{ id: 'm1', match: 1, lastContactMs: 0, reachable: true, learner: false }],
      },
      manager: { isLeader: true, dispatcher: { sessionCount: 0 } },
    }),
    ROOT,
  );
  const out = new Map<string, Set<string>>();
  for (const f of (await parseMetrics((await m.scrape()).body)).values()) {
    const labels = new Set(f.samples.flatMap((s) => Object.keys(s.labels)));
    if (f.type === 'histogram') {
      out.set(`${f.name}_bucket`, new Set([...labels, 'le']));
      out.set(`${f.name}_sum`, labels);
      out.set(`${f.name}_count`, labels);
    } else out.set(f.name, labels);
  }
  return out;
}
