import type { Server } from 'node:http';
import type { Http2Server, ServerHttp2Session } from 'node:http2';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

/** What an HTTP/2 client with prior knowledge (h2c) sends first (RFC 9113 §3.4); no HTTP/1.1 request line starts so. */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/**
 * The protocol a TLS proxy port that serves gRPC picks by ALPN: HTTP/1.1
 * whenever the client offers it, h2 only to a client that offers h2 alone.
 * gRPC clients (grpc-js, grpc-go, grpc-java) offer only h2; browsers and
 * curl offer both and would otherwise reach HTTP/1.1 services over HTTP/2,
 * which the gateway does not bridge. Undefined when nothing matches: the
 * handshake fails with no_application_protocol.
 */
export function chooseAlpn({ protocols }: { protocols: string[] }): string | undefined {
  if (protocols.includes('http/1.1')) return 'http/1.1';
  return protocols.includes('h2') ? 'h2' : undefined;
}

/** The HTTP/2 sessions of a port, for drain and shutdown. */
export interface H2Sessions {
  /** Sends GOAWAY on every session: streams in flight finish, new ones go to a new connection. */
  closeAll(): void;
  destroyAll(): void;
}

/**
 * Serves HTTP/2 on the port `server` (node:http or node:https) listens on,
 * beside HTTP/1.1, the way Envoy does: over TLS, a connection whose ALPN chose
 * h2 goes to `h2`; in clear, one that opens with the HTTP/2 preface (prior
 * knowledge) does, and any other to HTTP/1.1 with the bytes read so far. Both
 * kinds stay on one port, so clients need no second address.
 *
 * The servers' own connection listeners are taken over: node:http's reads
 * the socket natively, bypassing bytes pushed back into the stream, so an
 * HTTP/1.1 connection gets its first bytes replayed as a data event.
 */
export function acceptHttp2(server: Server, h2: Http2Server, secure: boolean): H2Sessions {
  const sessions = new Set<ServerHttp2Session>();
  h2.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    // Like an idle HTTP/1.1 connection after proxy.keepAliveTimeout: GOAWAY, and streams still open finish first.
    session.setTimeout(server.keepAliveTimeout, () => session.close());
  });
  if (secure) {
    const [http1] = server.listeners('secureConnection') as Array<(socket: TLSSocket) => void>;
    server.removeAllListeners('secureConnection');
    server.on('secureConnection', (socket: TLSSocket) => {
      if (socket.alpnProtocol === 'h2') h2.emit('connection', socket);
      else http1?.call(server, socket);
    });
  } else {
    sniffPreface(server, h2);
  }
  return {
    closeAll: () => {
      for (const session of sessions) session.close();
    },
    destroyAll: () => {
      for (const session of sessions) session.destroy();
    },
  };
}

/** The clear-text split: the first bytes decide, read until they can (at most the preface's 24). */
function sniffPreface(server: Server, h2: Http2Server): void {
  const [http1] = server.listeners('connection') as Array<(socket: Socket) => void>;
  server.removeAllListeners('connection');
  // Connections that sent too little to tell yet: node:http does not know them, so its close calls cannot end them.
  const undecided = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    undecided.add(socket);
    let seen: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), server.headersTimeout || 60_000);
    // A reset before the first bytes must not reach the process as an unhandled error.
    const onError = () => socket.destroy();
    const decide = () => {
      clearTimeout(timer);
      undecided.delete(socket);
      socket.off('data', onData);
      socket.off('close', decide);
      socket.off('error', onError);
    };
    const onData = (chunk: Buffer) => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, PREFACE.length);
      const h2Like = seen.subarray(0, n).equals(PREFACE.subarray(0, n));
      if (h2Like && seen.length < PREFACE.length) return;
      decide();
      if (h2Like) {
        // The HTTP/2 session reads what is already buffered in the stream.
        socket.pause();
        socket.unshift(seen);
        h2.emit('connection', socket);
        return;
      }
      http1?.call(server, socket);
      socket.emit('data', seen);
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.once('close', decide);
  });
  const closeAll = server.closeAllConnections.bind(server);
  server.closeAllConnections = () => {
    closeAll();
    for (const socket of undecided) socket.destroy();
  };
  const closeIdle = server.closeIdleConnections.bind(server);
  server.closeIdleConnections = () => {
    closeIdle();
    for (const socket of undecided) socket.destroy();
  };
}
