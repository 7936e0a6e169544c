import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';

/**
 * Keeps a copy of a request body while it streams upstream, up to a cap, so the
 * request can be sent again: to stable after the candidate failed, or on a
 * fresh connection after a stale one. Past the cap the copy is dropped and the
 * request is not replayable.
 */
export class ReplayBody {
  private chunks: Buffer[] | null = [];
  private size = 0;
  private complete = false;
  /** The body went over the cap (rather than the client going away). */
  tooLarge = false;
  private waiters: Array<(body: Buffer | null) => void> = [];

  constructor(req: Readable, private readonly capBytes: number) {
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

/** RFC 9112 §6.3: a request has a body only when it says so with Content-Length or Transfer-Encoding. */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** The body of a request that has none, when it is sent again. */
const NO_BODY = Buffer.alloc(0);

/**
 * A request's body as a second attempt needs it (a replay on stable, or the
 * same request on a fresh connection after a stale one failed): nothing to
 * keep when there is none; else a copy kept while it streams, from the start
 * when a replay on stable may follow, or from the first attempt when it goes
 * out on a reused connection. Requests with nothing to resend keep nothing.
 */
export class ResendableBody {
  /** The request has a body to stream. */
  readonly streams: boolean;
  private copy: ReplayBody | null = null;

  constructor(
    private readonly req: IncomingMessage,
    private readonly capBytes: number,
    keepFromStart: boolean,
  ) {
    this.streams = hasBody(req);
    if (keepFromStart) this.keep();
  }

  /** Keeps a copy from now on; call it before the body starts to flow. */
  keep(): void {
    if (this.streams && this.copy === null) this.copy = new ReplayBody(this.req, this.capBytes);
  }

  /** Whether the body could be sent again once in: there is none, or a copy is kept. */
  get kept(): boolean {
    return !this.streams || this.copy !== null;
  }

  /** The whole body if it is in hand now. */
  now(): Buffer | null {
    return this.streams ? (this.copy?.peek() ?? null) : NO_BODY;
  }

  /** The whole body once the client sent it all; null when it was not kept (too large, or the client left). */
  whenComplete(callback: (body: Buffer | null) => void): void {
    const now = this.now();
    if (now !== null || this.copy === null) {
      callback(now);
      return;
    }
    // A failed upstream unpiped the client's body, which pauses it: the copy still needs the rest.
    this.req.resume();
    this.copy.whenComplete(callback);
  }
}
