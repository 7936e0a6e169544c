import type { Readable } from 'node:stream';

/**
 * `timeouts.idle`: the longest gap between two chunks of a body, watched on one
 * body at a time (the client's upload, then the upstream's answer). Each chunk
 * pushes the deadline back with `refresh()`, which allocates nothing. When it
 * fires, the owner decides whose gap it was (a reader that stopped reading
 * holds the sender back) and may `extend()` it.
 */
export class IdleTimer {
  private timer: NodeJS.Timeout | undefined;
  private body: Readable | null = null;
  private readonly onChunk = (): void => {
    this.timer?.refresh();
  };
  private readonly onEnd = (): void => this.stop();

  constructor(
    readonly idleMs: number,
    private readonly onIdle: () => void,
  ) {}

  /** Watches `body` from now on, instead of the body watched so far, until `stop()`. */
  watch(body: Readable): void {
    this.stop();
    this.body = body;
    body.on('data', this.onChunk);
    this.timer = setTimeout(this.onIdle, this.idleMs);
  }

  /** Watches `body` like `watch` until it ends. */
  watchToEnd(body: Readable): void {
    this.watch(body);
    body.once('end', this.onEnd);
  }

  /** Whether `body` is the one being watched. */
  watching(body: Readable): boolean {
    return this.body === body;
  }

  /** Gives the watched body another `idleMs`, after the timer fired for a gap that was not its own. */
  extend(): void {
    if (this.body !== null) this.timer?.refresh();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.body?.off('data', this.onChunk).off('end', this.onEnd);
    this.body = null;
  }
}
