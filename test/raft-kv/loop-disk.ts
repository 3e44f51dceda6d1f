/**
 * A small real filesystem for disk-fault tests: an ext4 image loop-mounted on a temporary directory,
 * which the test fills up (a preallocated filler file) so that writes under it fail with ENOSPC.
 * Needs root (mount, losetup). `destroy` unmounts, detaches the loop device and removes everything,
 * whatever state the test left it in.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.error?.message || `exit ${r.status}`}`);
  return r.stdout;
}

export class LoopDisk {
  private readonly root = mkdtempSync(path.join(tmpdir(), 'shoal-loopdisk-'));
  readonly image = path.join(this.root, 'disk.img');
  /** Where the filesystem is mounted. */
  readonly mountPoint = path.join(this.root, 'mnt');
  private readonly filler = path.join(this.mountPoint, 'filler');
  private device: string | undefined;

  /** Creates and mounts a `megabytes` ext4 filesystem with no blocks reserved for root. */
  constructor(megabytes: number) {
    try {
      sh('mkdir', ['-p', this.mountPoint]);
      sh('truncate', ['-s', `${megabytes}M`, this.image]);
      sh('mkfs.ext4', ['-q', '-F', '-m', '0', this.image]);
      this.device = sh('losetup', ['--find', '--show', this.image]).trim();
      sh('mount', [this.device, this.mountPoint]);
    } catch (e) {
      this.destroy();
      throw e;
    }
  }

  /** Bytes still free for writing. */
  freeBytes(): number {
    const s = statfsSync(this.mountPoint);
    return s.bfree * s.bsize;
  }

  /** Takes all but about `leaveBytes` of the free space with one preallocated file. */
  fill(leaveBytes: number): void {
    const take = this.freeBytes() - leaveBytes;
    if (take > 0) sh('fallocate', ['-l', String(take), this.filler]);
  }

  /** Gives the filler's space back. */
  release(): void {
    rmSync(this.filler, { force: true });
  }

  /** Unmounts, detaches and removes; safe to call more than once and after a failed setup. */
  destroy(): void {
    spawnSync('umount', [this.mountPoint]);
    if (this.device) {
      // Still mounted (something held it): unmount lazily so the device can go.
      if (spawnSync('findmnt', ['-n', this.mountPoint]).status === 0) spawnSync('umount', ['-l', this.mountPoint]);
      spawnSync('losetup', ['-d', this.device]);
      this.device = undefined;
    }
    rmSync(this.root, { recursive: true, force: true });
  }
}
