/**
 * The few system calls the lab needs: run a command and check it, start a detached process with its
 * output in a log file, signal and wait for processes, and find processes by what they run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { openSync, readdirSync, readFileSync } from 'node:fs';

export class LabError extends Error {}

export function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: Buffer; allowFail?: boolean } = {},
): string {
  const r = spawnSync(cmd, args, {
    env: opts.env ?? process.env,
    input: opts.input,
    encoding: 'buffer',
    maxBuffer: 1024 * 1024 * 1024,
  });
  if (r.status !== 0 && !opts.allowFail) {
    throw new LabError(
      `${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr?.toString().trim() ?? r.error?.message}`,
    );
  }
  return r.stdout?.toString() ?? '';
}

/** Starts a process in the background, detached from us, logging to `log`; returns its pid. */
export function startDetached(cmd: string, args: string[], log: string, env?: NodeJS.ProcessEnv): number {
  const fd = openSync(log, 'a');
  const p = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd], env: env ?? process.env });
  p.unref();
  if (!p.pid) throw new LabError(`cannot start ${cmd}`);
  return p.pid;
}

export function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    // A zombie still answers signal 0; it is not running.
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

export function kill9(pids: Iterable<number>): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

export async function waitGone(pids: number[], timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (pids.some(alive)) {
    if (Date.now() > end) throw new LabError(`processes ${pids.filter(alive).join(', ')} did not exit`);
    await sleep(50);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Pids whose command line contains `needle`. */
export function pidsWithCmdline(needle: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').replaceAll('\0', ' ').includes(needle)) out.push(Number(d));
    } catch {
      // exited meanwhile
    }
  }
  return out.filter((p) => p !== process.pid);
}

/** Every pid in a cgroup subtree (cgroup v1 hierarchies or v2), e.g. a lab host's containers. */
export function pidsInCgroup(parent: string): number[] {
  const roots = ['/sys/fs/cgroup/pids', '/sys/fs/cgroup/memory', '/sys/fs/cgroup'];
  const pids = new Set<number>();
  const walk = (dir: string): void => {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    try {
      for (const l of readFileSync(`${dir}/cgroup.procs`, 'utf8').split('\n')) if (l) pids.add(Number(l));
    } catch {
      // not a cgroup directory
    }
    for (const e of entries) if (!e.includes('.')) walk(`${dir}/${e}`);
  };
  for (const r of roots) walk(`${r}/${parent}`);
  return [...pids];
}

/** Pids of a process and all its descendants. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length) {
    const p = stack.pop()!;
    out.push(p);
    stack.push(...(children.get(p) ?? []));
  }
  return out;
}
