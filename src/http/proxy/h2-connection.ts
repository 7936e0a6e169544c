import { connect, type ClientHttp2Session, type SecureClientSessionOptions } from 'node:http2';

/** Why a call could not get a session: the connection failed (its cause), or it was not ready within `timeouts.connect`. */
export type SessionFailure = { readonly timedOut: true; readonly connectMs: number } | { readonly timedOut: false; readonly error: NodeJS.ErrnoException };

/** Called once with a ready session, or with why there is none. */
export type SessionCallback = (session: ClientHttp2Session | null, failure: SessionFailure | null) => void;

/**
 * The HTTP/2 connection to one target of a `protocol: grpc` service: one
 * session carries every call to it at once (HTTP/2 multiplexes), opened on
 * first use and again after the server closed it, sent GOAWAY, or failed.
 *
 * A new session is handed out only once the server's SETTINGS arrived: a
 * stream opened before then does not know the server's limit of concurrent
 * streams, and the server refuses those beyond it, while later ones wait in
 * Node's queue for a free stream. Calls that arrive meanwhile wait together
 * on one timer of `timeouts.connect`. A session idle for `idleMs` (no frame
 * either way) is closed gracefully, before the server's own idle timeout can
 * race a new call.
 */
export class H2Connection {
  private current: ClientHttp2Session | null = null;
  private ready = false;
  private waiting: SessionCallback[] = [];

  constructor(
    /** `http://host:port` (h2c, prior knowledge) or `https://host:port` (h2 by ALPN). */
    private readonly origin: string,
    private readonly idleMs: number,
    /** The TLS options of an https:// target's next session; null for h2c. */
    private readonly tlsOptions: () => SecureClientSessionOptions | null,
  ) {}

  /** Calls `callback` with the live session, at once when it is ready, else when the (new) one is. */
  open(connectMs: number, callback: SessionCallback): void {
    const live = this.current;
    if (live !== null && !live.closed && !live.destroyed) {
      if (this.ready) callback(live, null);
      else this.waiting.push(callback);
      return;
    }
    this.start(connectMs);
    this.waiting.push(callback);
  }

  /** New TLS material: calls in flight finish on the old session, the next one opens a new session. */
  retire(): void {
    this.current?.close();
    this.current = null;
  }

  destroy(): void {
    this.current?.destroy();
    this.current = null;
  }

  private start(connectMs: number): void {
    const session = connect(this.origin, this.tlsOptions() ?? {});
    // This session's own waiters: a retired session still answers the calls that waited on it.
    const waiting: SessionCallback[] = [];
    this.current = session;
    this.ready = false;
    this.waiting = waiting;
    const settle = (failure: SessionFailure | null) => {
      clearTimeout(timer);
      if (this.current === session) this.ready = failure === null;
      for (const callback of waiting.splice(0)) callback(failure === null ? session : null, failure);
    };
    const forget = () => {
      if (this.current === session) this.current = null;
    };
    const timer = setTimeout(() => {
      settle({ timedOut: true, connectMs });
      forget();
      session.destroy();
    }, connectMs);
    session.once('remoteSettings', () => settle(null));
    session.on('error', (error: NodeJS.ErrnoException) => {
      settle({ timedOut: false, error });
      forget();
    });
    session.once('close', () => {
      settle({ timedOut: false, error: Object.assign(new Error('the connection closed before it was ready'), { code: 'ECONNRESET' }) });
      forget();
    });
    session.once('goaway', forget);
    session.setTimeout(this.idleMs, () => {
      forget();
      session.close();
    });
  }
}

/**
 * What made a stream fail: a session that could not connect or finish its
 * TLS handshake fails its streams with ERR_HTTP2_STREAM_CANCEL and the real
 * error (ECONNREFUSED, an untrusted certificate) as the cause.
 */
export function sessionCause(err: NodeJS.ErrnoException): NodeJS.ErrnoException {
  return err.code === 'ERR_HTTP2_STREAM_CANCEL' && err.cause instanceof Error ? (err.cause as NodeJS.ErrnoException) : err;
}
