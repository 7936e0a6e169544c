import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { ForwardContext } from './forward.js';
import { REQUEST_ID_HEADER, upstreamHeaders, VERSION_HEADER } from './headers.js';
import type { Routed } from './resolve.js';
import { writeRawProblem } from './respond.js';
import { tlsFailure } from './tls-errors.js';

/**
 * Forwards a WebSocket (or any HTTP/1.1 upgrade) to the assigned version, then
 * splices the sockets. The upgrade goes on a fresh connection: an upgraded one
 * never returns to the pool, and a pooled idle one may be stale.
 */
export function forwardUpgrade(req: IncomingMessage, client: Socket, head: Buffer, routed: Routed, requestId: string, ctx: ForwardContext): void {
  const { log } = ctx;
  const { pool, route } = routed;
  const target = pool.pick(ctx.now());
  const upstream = target.request(req.method, req.url, upstreamHeaders(req, target, pool.version, requestId, true), true);
  upstream.setTimeout(route.config.timeouts.request, () => upstream.destroy(new Error('upgrade timed out')));
  client.on('error', () => upstream.destroy());

  upstream.on('upgrade', (upRes, upSocket, upHead) => {
    upstream.setTimeout(0);
    const lines = [`HTTP/1.1 101 ${upRes.statusMessage ?? 'Switching Protocols'}`];
    for (let i = 0; i < upRes.rawHeaders.length; i += 2) lines.push(`${upRes.rawHeaders[i]}: ${upRes.rawHeaders[i + 1]}`);
    lines.push(`${VERSION_HEADER}: ${pool.version}`, `${REQUEST_ID_HEADER}: ${requestId}`);
    client.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (upHead.length > 0) client.write(upHead);
    if (head.length > 0) upSocket.write(head);
    upSocket.on('error', () => client.destroy());
    client.on('close', () => upSocket.destroy());
    upSocket.on('close', () => client.destroy());
    upSocket.pipe(client).pipe(upSocket);
  });

  upstream.on('response', (upRes) => {
    // The backend refused the upgrade: pass its answer on and close.
    const lines = [`HTTP/1.1 ${upRes.statusCode ?? 502} ${upRes.statusMessage ?? ''}`];
    for (let i = 0; i < upRes.rawHeaders.length; i += 2) lines.push(`${upRes.rawHeaders[i]}: ${upRes.rawHeaders[i + 1]}`);
    lines.push(`${VERSION_HEADER}: ${pool.version}`, 'Connection: close');
    client.write(`${lines.join('\r\n')}\r\n\r\n`);
    upRes.pipe(client);
  });

  upstream.on('error', (err: NodeJS.ErrnoException) => {
    const tls = tlsFailure(err);
    log.warn({ requestId, service: route.name, version: pool.version, target: target.origin, failure: tls === null ? 'connect' : 'tls' }, `upgrade failed: ${tls ?? err.message}`);
    if (!client.writable) return;
    const detail = `version ${pool.version} of service ${route.name} failed: ${tls === null ? (err.code ?? err.message) : `${target.origin}: ${tls}`}`;
    writeRawProblem(client, tls === null ? 'SY_ERR_UPSTREAM_CONNECT' : 'SY_ERR_UPSTREAM_TLS', detail, requestId);
  });
  upstream.end();
}
