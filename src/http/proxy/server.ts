import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { TlsMirror } from '../../tls/tls-registry.js';
import { createH2Streams } from '../grpc/h2-streams.js';
import { createTlsServer } from '../tls-listener.js';
import { arrival, type Forwarded, type ProxyListener } from './arrival.js';
import { forward, type ForwardContext } from './forward.js';
import { acceptHttp2, chooseAlpn } from './h2-accept.js';
import type { Resolver, Routed } from './resolve.js';
import { sendProblem, writeRawProblem } from './respond.js';
import { forwardUpgrade } from './websocket.js';

export type { ProxyListener } from './arrival.js';

export interface ProxyServer {
  /** An https.Server (which is an http.Server too) when the listener had `proxy.tls` material. */
  readonly server: Server;
  /**
   * Closes every connection after its answer from now on, keeps taking new ones
   * for `delayMs` (load balancers notice the failing readiness), then stops
   * taking connections and lets requests in flight finish for up to `timeoutMs`.
   */
  drain(delayMs: number, timeoutMs: number): Promise<{ cut: number }>;
  close(): Promise<void>;
}

const PLAIN: ProxyListener = { tls: new TlsMirror(), trustedHop: () => false };

const DRAIN_POLL_MS = 50;

/**
 * The request path: a plain node:http server, or node:https with `proxy.tls`
 * (express costs ~5x here), no store access, no body parsing. Decisions come
 * from the Resolver's in-memory tables. HTTP/2 (gRPC) shares the port:
 * h2c by prior knowledge always, h2 by ALPN over TLS when a service speaks
 * gRPC (`grpc`) and the client offers h2 alone (chooseAlpn), so HTTP clients
 * keep HTTP/1.1.
 */
export function createProxyServer(resolver: Resolver, ctx: ForwardContext, listener: ProxyListener = PLAIN, grpc = false): ProxyServer {
  let inFlight = 0;
  let draining = false;
  const material = listener.tls.current().proxy;
  const arrived = arrival(listener, material);
  const { certRefusal } = arrived;
  const forwardedOf = (req: IncomingMessage) => arrived.forwardedOf(req.headers, req.socket);
  const h2State = { inFlight: 0, draining: () => draining };
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    inFlight++;
    res.once('close', () => inFlight--);
    // While draining, every answer closes its connection so clients reconnect elsewhere.
    if (draining) res.setHeader('connection', 'close');
    const refused = certRefusal(req.socket);
    if (refused !== null) {
      res.setHeader('connection', 'close');
      sendProblem(res, 'SY_ERR_CLIENT_CERT', refused, resolver.requestId(req), null, null);
      req.resume();
      return;
    }
    handle(resolver, ctx, req, res, forwardedOf(req));
  };
  const server = material === null ? createServer(onRequest) : createTlsServer('proxy', material, listener.tls, ctx.log, onRequest, grpc ? chooseAlpn : undefined);
  const h2 = acceptHttp2(server, createH2Streams(resolver, ctx, arrived, h2State), material !== null);
  // Upgraded sockets leave the server's connection tracking; close() ends them.
  const upgraded = new Set<Socket>();
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    const requestId = resolver.requestId(req);
    const refused = certRefusal(socket);
    if (refused !== null) {
      writeRawProblem(socket, 'SY_ERR_CLIENT_CERT', refused, requestId);
      return;
    }
    const forwarded = forwardedOf(req);
    const routed = resolver.resolve(req, forwarded.scheme === 'https');
    if (!routed.ok) {
      writeRawProblem(socket, routed.code, routed.detail, requestId);
      return;
    }
    if (routed.route.config.protocol === 'grpc') {
      writeRawProblem(socket, 'SY_ERR_HTTP_VERSION', needsHttp2(routed), requestId);
      return;
    }
    retarget(req, routed, forwarded);
    forwardUpgrade(req, socket, head, routed, requestId, ctx);
  });
  // With TLS, node:https passes a failed handshake (a plain-HTTP client, an
  // untrusted certificate, a reset) here too, on a socket it already destroyed:
  // the `writable` check drops it without a word, which is all a client that
  // cannot talk TLS to us deserves.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // An answer already on the wire (a stream, say) must not get a status line written into its body;
    // `_httpMessage` is the response in flight on this socket, the check Node's own handler makes.
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (!socket.writable || (inFlight?.headersSent ?? false)) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });
  /** Ends every connection, TLS ones still in their handshake too (createTlsServer). */
  const cutAll = () => {
    server.closeAllConnections();
    h2.destroyAll();
    for (const socket of upgraded) socket.destroy();
  };
  return {
    server,
    drain: async (delayMs, timeoutMs) => {
      draining = true;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      h2.closeAll();
      const deadline = Date.now() + timeoutMs;
      while ((inFlight > 0 || h2State.inFlight > 0 || upgraded.size > 0) && Date.now() < deadline) {
        server.closeIdleConnections();
        await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
      }
      const cut = inFlight + h2State.inFlight + upgraded.size;
      cutAll();
      await closed;
      return { cut };
    },
    // The hard stop (drain is the graceful one): with client keep-alive at 65 s,
    // waiting for connections to go idle by themselves could take that long.
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        cutAll();
        resolver.close();
      }),
  };
}

function handle(resolver: Resolver, ctx: ForwardContext, req: IncomingMessage, res: ServerResponse, forwarded: Forwarded): void {
  const requestId = resolver.requestId(req);
  const routed = resolver.resolve(req, forwarded.scheme === 'https');
  if (!routed.ok) {
    sendProblem(res, routed.code, routed.detail, requestId, routed.service, null);
    req.resume();
    return;
  }
  if (routed.route.config.protocol === 'grpc') {
    sendProblem(res, 'SY_ERR_HTTP_VERSION', needsHttp2(routed), requestId, routed.route.name, null);
    req.resume();
    return;
  }
  retarget(req, routed, forwarded);
  forward(req, res, routed, requestId, ctx);
}

/** Why an HTTP/1.1 request cannot reach a gRPC service. */
function needsHttp2(routed: Routed): string {
  return `service ${routed.route.name} speaks gRPC (protocol: grpc): call it over HTTP/2, with prior knowledge in clear or h2 over TLS`;
}

/**
 * Makes the request say what was matched: the live request, its shadow copy
 * and an upgrade all forward `req.url` and the x-forwarded-proto and -host
 * headers set here (upstreamHeaders), so the URL becomes the resolved
 * origin-form target, Host, for an absolute-form request line, its authority
 * (RFC 9112 §3.2.2: it replaces Host), and the forwarding headers what was
 * decided here in place of whatever the client sent: x-forwarded-host is a
 * trusted hop's, else the Host the gateway matched.
 */
function retarget(req: IncomingMessage, routed: Routed, forwarded: Forwarded): void {
  req.url = routed.path;
  if (routed.authority !== null) req.headers.host = routed.authority;
  req.headers['x-forwarded-proto'] = forwarded.scheme;
  const host = forwarded.host ?? req.headers.host;
  if (host === undefined) delete req.headers['x-forwarded-host'];
  else req.headers['x-forwarded-host'] = host;
}
