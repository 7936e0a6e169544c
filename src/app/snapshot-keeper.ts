import type { Clock } from './clock.js';
import type { Logger } from './logger.js';
import type { RoutingSource, ServiceView } from './routing-table.js';
import { decodeSnapshot, encodeSnapshot, snapshotEntry, sortEntries, type RoutingSnapshot, type SnapshotEntry, type SnapshotFile } from './snapshot.js';

/** An override storm changes the table many times a second; the file is written at most this often. */
const WRITE_INTERVAL_MS = 1_000;

export interface SnapshotKeeperOptions {
  readonly file: SnapshotFile;
  readonly clock: Clock;
  readonly log: Logger;
  readonly intervalMs?: number;
}

/** Reads the snapshot at start; a missing file is no snapshot, an unreadable one is ignored with one log line. */
export async function loadSnapshot(file: SnapshotFile, log: Logger): Promise<RoutingSnapshot | null> {
  let text: string | null;
  try {
    text = await file.read();
  } catch (err) {
    log.warn({ path: file.path, err: (err as Error).message }, 'ignoring the routing snapshot: cannot read it');
    return null;
  }
  if (text === null) return null;
  const decoded = decodeSnapshot(text);
  if (decoded.ok) return decoded.snapshot;
  log.warn({ path: file.path, reason: decoded.reason }, 'ignoring the routing snapshot: cannot use it');
  return null;
}

/**
 * Keeps the snapshot file in step with the routing table: hears every update
 * (RoutingTable.onUpdate), writes off the request path, at most once per
 * interval, and only when what the store said changed what the file holds.
 */
export class SnapshotKeeper {
  private readonly entries = new Map<string, SnapshotEntry>();
  private readonly intervalMs: number;
  private dirty = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private notBefore = Number.NEGATIVE_INFINITY;
  /** The services as last written, to skip rewriting an unchanged table (the periodic re-read sets every view). */
  private written: string | null = null;
  private failure: string | null = null;

  constructor(private readonly o: SnapshotKeeperOptions) {
    this.intervalMs = o.intervalMs ?? WRITE_INTERVAL_MS;
  }

  /**
   * A view read from the store makes a write due. One from the snapshot is kept for the
   * next write but makes none; one from the config is never written: it says nothing
   * the store did not, and would replace a snapshot this replica could not read.
   */
  onUpdate(service: string, view: ServiceView, source: RoutingSource): void {
    if (source === 'config') return;
    this.entries.set(service, snapshotEntry(view.state, view.overrides.values()));
    if (source === 'store') this.schedule();
  }

  /** Writes what is still due (shutdown), then stops. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.writing;
    if (this.dirty) await this.write();
  }

  private schedule(): void {
    this.dirty = true;
    if (this.closed || this.timer !== undefined || this.writing !== undefined) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        void this.write();
      },
      Math.max(0, this.notBefore - this.o.clock.now()),
    );
    this.timer.unref();
  }

  private write(): Promise<void> {
    this.dirty = false;
    this.notBefore = this.o.clock.now() + this.intervalMs;
    this.writing = this.persist().finally(() => {
      this.writing = undefined;
      if (this.dirty) this.schedule();
    });
    return this.writing;
  }

  private async persist(): Promise<void> {
    const services = sortEntries(this.entries.values());
    const content = JSON.stringify(services);
    if (content === this.written) return;
    try {
      await this.o.file.write(encodeSnapshot(services, this.o.clock.now()));
      this.written = content;
      if (this.failure !== null) this.o.log.info({ path: this.o.file.path }, 'routing snapshot written again');
      this.failure = null;
    } catch (err) {
      const message = (err as Error).message;
      // Once per cause, not once per second: the previous snapshot stays in place meanwhile.
      if (message !== this.failure) this.o.log.warn({ path: this.o.file.path, err: message }, 'cannot write the routing snapshot; the previous one stays');
      this.failure = message;
    }
  }
}
