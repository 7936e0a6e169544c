import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { forward, type ForwardContext } from './forward.js';
import type { Resolver, Routed } from './resolve.js';
import { sendProblem, writeRawProblem } from './respond.js';
import { destroyPools } from './upstream-pool.js';
import { forwardUpgrade } from './websocket.js';

export interface ProxyServer {
  readonly server: Server;
  /**
   * Closes every connection after its answer from now on, keeps taking new ones
   * for `delayMs` (load balancers notice the failing readiness), then stops
   * taking connections and lets requests in flight finish for up to `timeoutMs`.
   */
  drain(delayMs: number, timeoutMs: number): Promise<{ cut: number }>;
  close(): Promise<void>;
}

const DRAIN_POLL_MS = 50;

/**
 * The request path: a plain node:http server (express costs ~5x here), no store
 * access, no body parsing. Decisions come from the Resolver's in-memory tables.
 */
export function createProxyServer(resolver: Resolver, ctx: ForwardContext): ProxyServer {
  let inFlight = 0;
  let draining = false;
  const server = createServer((req, res) => {
    inFlight++;
    res.once('close', () => inFlight--);
    // While draining, every answer closes its connection so clients reconnect elsewhere.
    if (draining) res.setHeader('connection', 'close');
    handle(resolver, ctx, req, res);
  });
  // Upgraded sockets leave the server's connection tracking; close() ends them.
  const upgraded = new Set<Socket>();
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    const requestId = resolver.requestId(req);
    const routed = resolver.resolve(req);
    if (!routed.ok) {
      writeRawProblem(socket, routed.code, routed.detail, requestId);
      return;
    }
    retarget(req, routed);
    forwardUpgrade(req, socket, head, routed, requestId, ctx);
  });
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
  return {
    server,
    drain: async (delayMs, timeoutMs) => {
      draining = true;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const deadline = Date.now() + timeoutMs;
      while ((inFlight > 0 || upgraded.size > 0) && Date.now() < deadline) {
        server.closeIdleConnections();
        await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
      }
      const cut = inFlight + upgraded.size;
      server.closeAllConnections();
      for (const socket of upgraded) socket.destroy();
      await closed;
      return { cut };
    },
    // The hard stop (drain is the graceful one): with client keep-alive at 65 s,
    // waiting for connections to go idle by themselves could take that long.
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of upgraded) socket.destroy();
        destroyPools(resolver.allPools());
      }),
  };
}

function handle(resolver: Resolver, ctx: ForwardContext, req: IncomingMessage, res: ServerResponse): void {
  const requestId = resolver.requestId(req);
  const routed = resolver.resolve(req);
  if (!routed.ok) {
    sendProblem(res, routed.code, routed.detail, requestId, routed.service, null);
    req.resume();
    return;
  }
  retarget(req, routed);
  forward(req, res, routed, requestId, ctx);
}

/**
 * Makes the request say what was matched: the live request, its shadow copy
 * and an upgrade all forward `req.url` and report `Host` as x-forwarded-host,
 * so both become the resolved origin-form target and, for an absolute-form
 * request line, its authority (RFC 9112 §3.2.2: it replaces Host).
 */
function retarget(req: IncomingMessage, routed: Routed): void {
  req.url = routed.path;
  if (routed.authority !== null) req.headers.host = routed.authority;
}
