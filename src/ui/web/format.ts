/** Small text helpers for the page: escaping, sizes, durations, a colour per service. */

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Everything from the cluster (names, images, errors) is text, never markup. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

export function cpus(nano: number): string {
  const v = nano / 1e9;
  return v >= 10 || Number.isInteger(v) ? v.toFixed(0) : v.toFixed(2).replace(/0$/, '');
}

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 10 || i === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

/** `docker service ps`-like ages: 5s, 3m, 2h, 4d. */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** A stable hue per service, so its cards share a colour on every node. */
export function hue(serviceId: string): number {
  let h = 2166136261;
  for (let i = 0; i < serviceId.length; i++) h = Math.imul(h ^ serviceId.charCodeAt(i), 16777619);
  // Mix the bits: IDs that differ in their last character must not get neighbouring hues.
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  return ((h ^ (h >>> 16)) >>> 0) % 360;
}
