/**
 * `shoal stack deploy|rollback --detach=false`: one display for every service the command changed,
 * each with docker's per-service progress, until all converged or one update paused.
 */
import { CliError, type ApiClient } from './client.js';
import { convergenceStep, progressDrawer, realIo, type ConvergenceState, type ProgressIo } from './progress.js';

export interface WatchedService {
  id: string;
  name: string;
}

export async function waitForStack(
  api: ApiClient,
  namespace: string,
  services: readonly WatchedService[],
  io: ProgressIo = realIo,
): Promise<void> {
  if (!services.length) return;
  const drawer = progressDrawer(io);
  const states = new Map<string, ConvergenceState>(services.map((s) => [s.id, { rollback: false }]));
  const finished = new Map<string, string[]>();
  const failures = new Map<string, string>();
  for (;;) {
    const lines: string[] = [];
    for (const s of services) {
      let block = finished.get(s.id);
      if (!block) {
        const step = await convergenceStep(api, s.id, s.name, states.get(s.id)!, io.now());
        if (step.failure) {
          failures.set(s.name, step.failure);
          block = [`${step.failure}`];
          finished.set(s.id, block);
        } else {
          block = step.lines;
          if (step.done) finished.set(s.id, block);
        }
      }
      const [head = '', ...rest] = block;
      lines.push(`${s.name}: ${head}`, ...rest.map((l) => `  ${l}`));
    }
    if (finished.size === services.length) {
      if (!failures.size) lines.push(`verify: Stack ${namespace} converged`);
      drawer.draw(lines);
      if (failures.size) throw new CliError([...failures].map(([name, why]) => `service ${name}: ${why}`).join('\n'));
      return;
    }
    drawer.draw(lines);
    await io.sleep(200);
  }
}
