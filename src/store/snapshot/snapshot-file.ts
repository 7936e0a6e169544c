import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { snapshotFileName, type SnapshotFile } from '../../app/snapshot.js';
import type { Config } from '../../config/schema.js';

/** The snapshot file of this deployment, or null when there is none to keep: the memory store, or `snapshot.enabled: false`. */
export function snapshotFileFor(config: Config): SnapshotFile | null {
  const redis = config.store.redis;
  if (redis === undefined || !config.snapshot.enabled) return null;
  return new LocalSnapshotFile(join(config.snapshot.dir, snapshotFileName(redis)));
}

let tempSeq = 0;

/** A snapshot in a local file, replaced atomically. Readable by its owner only: overrides name users. */
export class LocalSnapshotFile implements SnapshotFile {
  constructor(readonly path: string) {}

  async read(): Promise<string | null> {
    try {
      return await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  /**
   * Writes a temporary file beside the target (same file system, so the rename is
   * atomic), flushes it to disk, renames it over the target and flushes the
   * directory, so that after a crash the file is the old text or the new one.
   */
  async write(text: string): Promise<void> {
    const dir = dirname(this.path);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // Unique per process and write: replicas of one deployment on one host share the target.
    const temp = `${this.path}.${process.pid}.${++tempSeq}.tmp`;
    try {
      const file = await open(temp, 'w', 0o600);
      try {
        await file.writeFile(text, 'utf8');
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temp, this.path);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}
