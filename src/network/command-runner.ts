/**
 * How the host plumbing runs `ip`, `bridge` and `nft`: argument vectors through execFile (never a
 * shell, so no value is ever interpreted), optionally inside another network namespace via
 * nsenter. The interface lets tests record commands and lets one plumbing object work in a lab
 * host's namespace or inside a container's.
 */
import { execFile } from 'node:child_process';
import { invalidArgument } from '../common/errors.js';

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CommandRunner {
  /** Runs `cmd args...` with optional stdin; resolves with the exit code (never rejects on exit != 0). */
  run(cmd: string, args: readonly string[], input?: string): Promise<CommandResult>;
}

export class CommandError extends Error {
  constructor(
    readonly cmd: string,
    readonly args: readonly string[],
    readonly result: CommandResult,
  ) {
    super(`${cmd} ${args.join(' ')} failed (${result.code}): ${result.stderr.trim() || result.stdout.trim()}`);
    this.name = 'CommandError';
  }
}

const TIMEOUT_MS = 30_000;

/** Runs commands in the current network namespace. */
export const hostRunner: CommandRunner = {
  run(cmd, args, input) {
    return new Promise((resolve) => {
      const child = execFile(
        cmd,
        [...args],
        { timeout: TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
          resolve({
            code,
            stdout: String(stdout),
            stderr: String(stderr) + (err && typeof err.code !== 'number' ? err.message : ''),
          });
        },
      );
      // A command that exits before reading its input (nsenter into a namespace that just went away)
      // closes the pipe: that EPIPE is not ours to throw — the exit code already says it failed.
      child.stdin?.on('error', () => undefined);
      if (input !== undefined) child.stdin?.end(input);
      else child.stdin?.end();
    });
  },
};

const NETNS_PATH =
  /^(\/var\/run\/netns\/[A-Za-z0-9_.-]{1,64}|\/run\/netns\/[A-Za-z0-9_.-]{1,64}|\/proc\/[0-9]{1,10}\/ns\/net)$/;

/**
 * Runs commands inside the network namespace at `path` (`/var/run/netns/NAME` for a named one,
 * `/proc/PID/ns/net` for a container's). nsenter, unlike `ip netns exec`, does not remount /sys.
 */
export function netnsRunner(path: string, base: CommandRunner = hostRunner): CommandRunner {
  if (!NETNS_PATH.test(path)) throw invalidArgument(`not a network namespace path: ${path}`);
  return { run: (cmd, args, input) => base.run('nsenter', [`--net=${path}`, '--', cmd, ...args], input) };
}

/** Runs and throws a CommandError unless the command succeeded. */
export async function mustRun(r: CommandRunner, cmd: string, args: readonly string[], input?: string): Promise<string> {
  const res = await r.run(cmd, args, input);
  if (res.code !== 0) throw new CommandError(cmd, args, res);
  return res.stdout;
}
