import { mergeSlices, type WindowSlice } from '../core/analysis/window.js';
import type { Logger } from './logger.js';
import type { Store } from './store.js';

export interface FlusherOptions {
  readonly recorder: { drain(): WindowSlice[] };
  readonly store: Pick<Store, 'addWindows'>;
  readonly intervalMs: number;
  /** How long the store keeps a bucket after its last write. */
  readonly ttlMs: number;
  readonly log: Logger;
  /**
   * Slices kept for the next attempt while the store is down. About one per
   * service, version and bucket, so the default outlasts minutes of outage; past
   * it the oldest buckets go first, as the newest weigh most in the next verdict.
   */
  readonly maxPendingSlices?: number;
}

const DEFAULT_MAX_PENDING_SLICES = 20_000;

/**
 * Moves the recorder's counters to the store every interval, off the request
 * path. A failed write is not lost: its slices are merged into the next attempt
 * (sums commute, so a late part adds up like any other).
 */
export class Flusher {
  private readonly maxPending: number;
  private pending: WindowSlice[] = [];
  /** Flushes run one after another, so a slow write never has its slices sent twice. */
  private chain: Promise<void> = Promise.resolve();
  private busy = false;
  private failing = false;
  private dropped = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: FlusherOptions) {
    this.maxPending = o.maxPendingSlices ?? DEFAULT_MAX_PENDING_SLICES;
  }

  /** Slices given up because the store stayed down past `maxPendingSlices`, since start. */
  get droppedSlices(): number {
    return this.dropped;
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => {
      // A write still waiting on the store already carries the backlog; the next tick takes the rest.
      if (!this.busy) void this.flush();
    }, this.o.intervalMs);
    this.timer.unref();
  }

  /** Stops the interval; call `flush()` afterwards for the last counts at shutdown. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Drains the recorder and writes what it has; never rejects (a failure keeps the slices for later). */
  flush(): Promise<void> {
    this.chain = this.chain
      .then(() => this.flushOnce())
      .catch((err: Error) => this.o.log.error({ err: err.message }, 'analysis flush failed'));
    return this.chain;
  }

  private async flushOnce(): Promise<void> {
    const batch = mergeSlices([...this.pending, ...this.o.recorder.drain()]);
    this.pending = [];
    if (batch.length === 0) return;
    this.busy = true;
    try {
      await this.o.store.addWindows(batch, this.o.ttlMs);
      if (this.failing) this.o.log.info({ slices: batch.length }, 'analysis windows written again after a store outage');
      this.failing = false;
    } catch (err) {
      this.keep(batch);
      if (!this.failing) {
        const why = { err: (err as Error).message, pending: this.pending.length };
        this.o.log.warn(why, 'analysis windows not written; keeping them for the next flush');
      }
      this.failing = true;
    } finally {
      this.busy = false;
    }
  }

  private keep(batch: WindowSlice[]): void {
    const excess = batch.length - this.maxPending;
    if (excess > 0) {
      batch.sort((a, b) => a.bucketMs - b.bucketMs);
      batch.splice(0, excess);
      this.dropped += excess;
      this.o.log.warn({ dropped: excess, droppedTotal: this.dropped, kept: batch.length }, 'store down too long: oldest analysis windows dropped');
    }
    this.pending = batch;
  }
}
