import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../../app/logger.js';
import type { Outcome, RequestObserver } from '../../app/request-observer.js';
import type { ErrorCode } from '../../core/errors.js';
import { REQUEST_ID_HEADER, upstreamHeaders, VERSION_HEADER, withoutHopByHop } from './headers.js';
import type { Routed } from './resolve.js';
import { sendProblem } from './respond.js';

export interface ForwardContext {
  readonly log: Logger;
  readonly observer: RequestObserver;
}

/** nginx's code for "the client closed the request": not the version's fault, not an error. */
const CLIENT_CLOSED = 499;

/** Streams one request to a target of the assigned version and its answer back. */
export function forward(req: IncomingMessage, res: ServerResponse, routed: Routed, requestId: string, ctx: ForwardContext): void {
  const { pool, route, setCookie } = routed;
  const { log } = ctx;
  const startedAt = performance.now();
  let status = 0;
  let outcome: Outcome = 'ok';
  const target = pool.pick();
  const { connect: connectMs, request: requestMs } = route.config.timeouts;
  const upstream = request({
    host: target.hostname,
    port: target.port,
    method: req.method,
    path: req.url,
    agent: target.agent,
    headers: upstreamHeaders(req, target, pool.version, requestId, false),
  });
  // Time to response headers; a streaming body after that is not cut.
  let timer: NodeJS.Timeout | undefined = setTimeout(() => fail('SY_ERR_UPSTREAM_TIMEOUT', `no response within ${requestMs} ms`), requestMs);
  let failed = false;

  upstream.on('socket', (socket: Socket) => {
    if (!socket.connecting) return;
    const connectTimer = setTimeout(() => fail('SY_ERR_UPSTREAM_TIMEOUT', `no connection within ${connectMs} ms`), connectMs);
    socket.once('connect', () => clearTimeout(connectTimer));
    socket.once('close', () => clearTimeout(connectTimer));
  });

  upstream.on('response', (upRes) => {
    clearTimeout(timer);
    timer = undefined;
    const headers = withoutHopByHop(upRes.headers);
    headers[VERSION_HEADER] = pool.version;
    headers[REQUEST_ID_HEADER] = requestId;
    if (setCookie !== null) headers['set-cookie'] = appendCookie(upRes.headers['set-cookie'], setCookie);
    status = upRes.statusCode ?? 502;
    if (status >= 500) outcome = 'status';
    res.writeHead(status, upRes.statusMessage, headers);
    upRes.pipe(res);
    upRes.on('error', () => res.destroy());
  });

  upstream.on('error', (err: NodeJS.ErrnoException) => {
    if (failed || res.destroyed) return;
    fail('SY_ERR_UPSTREAM_CONNECT', `${target.origin}: ${err.code ?? err.message}`);
  });

  // A client that goes away cancels the upstream request. Every request is counted once, here.
  res.on('close', () => {
    clearTimeout(timer);
    const finished = res.writableFinished;
    if (!finished) upstream.destroy();
    ctx.observer.observe({
      service: route.name,
      version: pool.version,
      key: routed.key,
      status: finished || failed ? status : CLIENT_CLOSED,
      outcome,
      latencyMs: performance.now() - startedAt,
    });
  });

  req.pipe(upstream);

  function fail(code: ErrorCode, why: string): void {
    if (failed) return;
    failed = true;
    outcome = code === 'SY_ERR_UPSTREAM_TIMEOUT' ? 'timeout' : 'connect';
    clearTimeout(timer);
    upstream.destroy();
    log.warn({ requestId, service: route.name, version: pool.version, target: target.origin, code }, why);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const detail = `version ${pool.version} of service ${route.name} failed: ${why}`;
    status = code === 'SY_ERR_UPSTREAM_TIMEOUT' ? 504 : 502;
    sendProblem(res, code, detail, requestId, route.name, pool.version);
  }
}

function appendCookie(existing: string[] | undefined, cookie: string): string[] {
  return existing === undefined ? [cookie] : [...existing, cookie];
}
