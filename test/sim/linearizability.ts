/**
 * A linearizability checker for a key-value register history (Wing & Gong search with memoization,
 * as Porcupine does), partitioned by key. An operation whose outcome is unknown has ret = Infinity:
 * it may take effect at any point after its call, or never.
 */
export interface Op {
  readonly key: string;
  readonly kind: 'put' | 'get';
  /** put: the value written; get: the value read ('' for missing). */
  readonly value: string;
  readonly call: number;
  readonly ret: number;
}

export type CheckResult = { ok: true } | { ok: false; key: string; reason: string };

export function checkHistory(ops: readonly Op[], budget = 2_000_000): CheckResult {
  const byKey = new Map<string, Op[]>();
  for (const o of ops) byKey.set(o.key, [...(byKey.get(o.key) ?? []), o]);
  for (const [key, list] of byKey) {
    const r = checkKey(list, budget);
    if (r !== true) return { ok: false, key, reason: r };
  }
  return { ok: true };
}

function checkKey(ops: readonly Op[], budget: number): true | string {
  const n = ops.length;
  const sorted = [...ops].sort((a, b) => a.call - b.call);
  const required = sorted.map((o) => o.ret !== Infinity);
  const seen = new Set<string>();
  let steps = 0;
  // Iterative DFS over (linearized set, current value).
  const done = new Uint8Array(n);
  const stack: { i: number; prevValue: string }[] = [];
  let value = '';
  let remainingRequired = required.filter(Boolean).length;
  let from = 0;
  for (;;) {
    if (remainingRequired === 0) return true;
    if (++steps > budget) return 'search budget exhausted (treated as failure)';
    // The earliest return among pending ops bounds which ops may go next.
    let minRet = Infinity;
    for (let i = 0; i < n; i++) if (!done[i] && sorted[i]!.ret < minRet) minRet = sorted[i]!.ret;
    let advanced = false;
    for (let i = from; i < n; i++) {
      if (done[i]) continue;
      const o = sorted[i]!;
      if (o.call > minRet) break;
      const legal = o.kind === 'put' || o.value === value;
      if (!legal) continue;
      const next = o.kind === 'put' ? o.value : value;
      done[i] = 1;
      const key = `${Buffer.from(done).toString('base64')}|${next}`;
      if (seen.has(key)) {
        done[i] = 0;
        continue;
      }
      seen.add(key);
      stack.push({ i, prevValue: value });
      value = next;
      if (required[i]) remainingRequired--;
      from = 0;
      advanced = true;
      break;
    }
    if (advanced) continue;
    const top = stack.pop();
    if (!top) return `no linearization of ${n} operations`;
    done[top.i] = 0;
    value = top.prevValue;
    if (required[top.i]) remainingRequired++;
    from = top.i + 1;
  }
}
