import type { IncomingMessage } from 'node:http';

/**
 * Keeps a copy of a request body while it streams upstream, up to a cap, so a
 * failed candidate request can be sent again to stable. Past the cap the copy
 * is dropped and the request is not replayable.
 */
export class ReplayBody {
  private chunks: Buffer[] | null = [];
  private size = 0;
  private complete = false;
  /** The body went over the cap (rather than the client going away). */
  tooLarge = false;
  private waiters: Array<(body: Buffer | null) => void> = [];

  constructor(req: IncomingMessage, private readonly capBytes: number) {
    req.on('data', (chunk: Buffer) => {
      if (this.chunks === null) return;
      this.size += chunk.length;
      if (this.size > this.capBytes) {
        this.chunks = null;
        this.tooLarge = true;
        this.settle();
        return;
      }
      this.chunks.push(chunk);
    });
    req.on('end', () => {
      this.complete = true;
      this.settle();
    });
    req.on('close', () => {
      if (!this.complete) this.chunks = null;
      this.settle();
    });
  }

  /** The whole body once the client sent it, or null when it cannot be replayed. */
  whenComplete(callback: (body: Buffer | null) => void): void {
    this.waiters.push(callback);
    this.settle();
  }

  /** The whole body if the client already sent it; null when not replayable or not complete yet. */
  peek(): Buffer | null {
    return this.chunks !== null && this.complete ? Buffer.concat(this.chunks) : null;
  }

  private settle(): void {
    if (this.chunks !== null && !this.complete) return;
    const body = this.chunks === null ? null : Buffer.concat(this.chunks);
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter(body);
  }
}
