/**
 * Durable small-file writes: write a temp file, fsync it, rename it over the target, fsync the
 * directory, so a crash leaves either the old file or the new one, never a torn one.
 */
import { open, rename } from 'node:fs/promises';
import path from 'node:path';

/** Makes a rename (or create) in `dir` durable. */
export async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const tmp = `${file}.tmp`;
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  await syncDir(path.dirname(file));
}
