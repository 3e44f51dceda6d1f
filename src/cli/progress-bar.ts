/** The pieces of the docker CLI's progress display shared by services and jobs: state order and bars. */

const STATES = [
  'new',
  'allocated',
  'pending',
  'assigned',
  'accepted',
  'preparing',
  'ready',
  'starting',
  'running',
  'complete',
  'shutdown',
  'failed',
  'rejected',
  'remove',
  'orphaned',
];

/** A task state's place in the lifecycle (0 for new or unknown). */
export const rank = (s: string): number => {
  const i = STATES.indexOf(s);
  return i < 0 ? 0 : i;
};

/** docker's 50-column bar for a fraction done. */
export function progressBar(frac: number): string {
  const width = 50;
  const done = Math.round(Math.min(1, Math.max(0, frac)) * width);
  return `[${'='.repeat(Math.max(0, done - 1))}${done > 0 ? '>' : ''}${' '.repeat(width - done)}]`;
}
