/**
 * Where a node keeps its tasks' secrets and configs on the host: one tmpfs per task (mode 0700,
 * nodev, nosuid, noexec) under `<root>/<task id>`, so the bytes live in memory only and never in
 * the data root or the engine's. Unmounted and removed with the task's container; whatever a crash
 * left behind is swept once the agent knows its assignments.
 */
import { chmod, chown, mkdir, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CommandError, hostRunner, type CommandRunner } from '../../network/command-runner.js';
import type { PayloadFile } from './task-payloads.js';

export interface PayloadDirs {
  /** Fills the task's tmpfs (mounting it first when needed); returns its directory. */
  prepare(taskId: string, files: readonly PayloadFile[]): Promise<string>;
  /** Unmounts and removes the task's tmpfs; nothing there is fine. */
  release(taskId: string): Promise<void>;
  /** Releases every task's tmpfs but those of `keep`. */
  sweep(keep: ReadonlySet<string>): Promise<void>;
}

const TASK_ID = /^[a-z0-9]{1,64}$/;

export class TmpfsPayloadDirs implements PayloadDirs {
  constructor(
    private readonly root: string,
    private readonly run: CommandRunner = hostRunner,
  ) {}

  async prepare(taskId: string, files: readonly PayloadFile[]): Promise<string> {
    const dir = this.dirOf(taskId);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    if (!(await this.mounted(dir))) {
      const size = files.reduce((n, f) => n + f.data.length, 0) + 64 * 1024;
      const r = await this.run.run('mount', [
        '-t',
        'tmpfs',
        '-o',
        `mode=0700,nodev,nosuid,noexec,size=${size}`,
        'tmpfs',
        dir,
      ]);
      // Never fall back to the disk: without the tmpfs the task fails.
      if (r.code !== 0) throw new CommandError('mount', ['-t', 'tmpfs', dir], r);
    }
    for (const f of files) {
      const path = join(dir, f.file);
      await writeFile(path, Buffer.from(f.data, 'base64'), { mode: 0o600 });
      await chown(path, f.uid, f.gid);
      await chmod(path, f.mode);
    }
    return dir;
  }

  async release(taskId: string): Promise<void> {
    const dir = this.dirOf(taskId);
    if (await this.mounted(dir)) {
      const r = await this.run.run('umount', [dir]);
      if (r.code !== 0) {
        // A container still holding a bind mount keeps it busy: detach now, freed when it goes.
        const lazy = await this.run.run('umount', ['-l', dir]);
        if (lazy.code !== 0) throw new CommandError('umount', ['-l', dir], lazy);
      }
    }
    await rm(dir, { recursive: true, force: true });
    // The node's own folder goes with its last task (a node that left leaves nothing behind); a
    // folder still holding another task's tmpfs refuses, which is the point.
    await rmdir(this.root).catch(() => undefined);
  }

  async sweep(keep: ReadonlySet<string>): Promise<void> {
    let entries: string[];
    try {
      entries = await readdir(this.root);
    } catch {
      return;
    }
    for (const e of entries) if (TASK_ID.test(e) && !keep.has(e)) await this.release(e);
  }

  private dirOf(taskId: string): string {
    if (!TASK_ID.test(taskId)) throw new Error(`invalid task id ${JSON.stringify(taskId)}`);
    return join(this.root, taskId);
  }

  private async mounted(dir: string): Promise<boolean> {
    const info = await readFile('/proc/self/mountinfo', 'utf8');
    return info.split('\n').some((l) => l.split(' ')[4] === dir);
  }
}
