import { connect, type ClientHttp2Session, type SecureClientSessionOptions } from 'node:http2';

/**
 * The HTTP/2 connection to one target of a `protocol: grpc` service: one
 * session carries every call to it at once (HTTP/2 multiplexes), opened on
 * first use and again after the server closed it, sent GOAWAY, or failed.
 * A session idle for `idleMs` (no frame either way, no stream open) is closed
 * gracefully, before the server's own idle timeout can race a new call.
 */
export class H2Connection {
  private current: ClientHttp2Session | null = null;

  constructor(
    /** `http://host:port` (h2c, prior knowledge) or `https://host:port` (h2 by ALPN). */
    private readonly origin: string,
    private readonly idleMs: number,
    /** The TLS options of an https:// target's next session; null for h2c. */
    private readonly tlsOptions: () => SecureClientSessionOptions | null,
  ) {}

  /** The session to open the next call on: the live one, or a new one still connecting. */
  session(): ClientHttp2Session {
    const live = this.current;
    if (live !== null && !live.closed && !live.destroyed) return live;
    const session = connect(this.origin, this.tlsOptions() ?? {});
    // Its streams report a failed session themselves; the session's own error needs a listener so it is not thrown.
    session.on('error', () => undefined);
    const forget = () => {
      if (this.current === session) this.current = null;
    };
    session.once('close', forget);
    session.once('goaway', forget);
    session.setTimeout(this.idleMs, () => {
      forget();
      session.close();
    });
    this.current = session;
    return session;
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
}

/**
 * What made a stream fail: a session that could not connect or finish its
 * TLS handshake fails its streams with ERR_HTTP2_STREAM_CANCEL and the real
 * error (ECONNREFUSED, an untrusted certificate) as the cause.
 */
export function sessionCause(err: NodeJS.ErrnoException): NodeJS.ErrnoException {
  return err.code === 'ERR_HTTP2_STREAM_CANCEL' && err.cause instanceof Error ? (err.cause as NodeJS.ErrnoException) : err;
}
