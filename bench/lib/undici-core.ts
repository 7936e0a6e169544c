import { EventEmitter } from 'node:events';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Pool } from 'undici';
import type { Logger } from '../../src/app/logger.js';
import type { ErrorCode } from '../../src/core/errors.js';
import { copyHeaders, REQUEST_ID_HEADER, upstreamHeaders, VERSION_HEADER } from '../../src/http/proxy/headers.js';
import type { Resolver, Routed } from '../../src/http/proxy/resolve.js';
import { sendProblem } from '../../src/http/proxy/respond.js';

/** Knobs the investigation turns; the defaults are what a first undici core would use. */
export interface UndiciOptions {
  /** Requests in flight per upstream connection (undici's default is 1). */
  readonly pipelining: number;
  /** Connections per target; null is unlimited (undici's default). */
  readonly connections: number | null;
  /** `stream` writes into the ServerResponse; `request` pipes the body stream into it. */
  readonly api: 'stream' | 'request';
  /** `auto` sends a body only when the request has one; `always` hands undici the IncomingMessage even for GET. */
  readonly body: 'auto' | 'always';
  /** How a client abort reaches undici: an AbortController per request, a plain EventEmitter (undici accepts both), or not at all. */
  readonly abort: 'signal' | 'emitter' | 'none';
}

export const UNDICI_DEFAULTS: UndiciOptions = { pipelining: 1, connections: null, api: 'stream', body: 'auto', abort: 'signal' };

/**
 * The Switchyard core with undici instead of node:http for the upstream hop: the
 * same Resolver and header rules as src/http/proxy, a Pool per target.
 */
export function createUndiciProxyServer(resolver: Resolver, log: Logger, options: UndiciOptions): { server: Server; close(): Promise<void> } {
  const pools = new Map<string, Pool>();
  const poolFor = (origin: string): Pool => {
    let pool = pools.get(origin);
    if (pool === undefined) {
      pool = new Pool(origin, { pipelining: options.pipelining, connections: options.connections, keepAliveTimeout: 60_000 });
      pools.set(origin, pool);
    }
    return pool;
  };
  const server = createServer((req, res) => {
    const requestId = resolver.requestId(req);
    const routed = resolver.resolve(req, false);
    if (!routed.ok) {
      sendProblem(res, routed.code, routed.detail, requestId, routed.service, null);
      req.resume();
      return;
    }
    forwardUndici(req, res, routed, requestId, log, poolFor, options);
  });
  return {
    server,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await Promise.all([...pools.values()].map((p) => p.destroy()));
    },
  };
}

function forwardUndici(
  req: IncomingMessage,
  res: ServerResponse,
  routed: Routed,
  requestId: string,
  log: Logger,
  poolFor: (origin: string) => Pool,
  options: UndiciOptions,
): void {
  const { pool: versionPool, route, setCookie } = routed;
  const target = versionPool.pick(Date.now());
  const version = versionPool.version;
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  let failed = false;
  let signal: AbortSignal | EventEmitter | undefined;
  if (options.abort === 'signal') {
    const controller = new AbortController();
    signal = controller.signal;
    res.on('close', () => {
      if (!res.writableFinished) controller.abort();
    });
  } else if (options.abort === 'emitter') {
    const emitter = new EventEmitter();
    signal = emitter;
    res.on('close', () => {
      if (!res.writableFinished) emitter.emit('abort');
    });
  }

  const writeHead = (statusCode: number, upHeaders: IncomingHttpHeaders): void => {
    // undici hands over a header map; flatten it to the raw form the core copies.
    const raw = Object.entries(upHeaders).flatMap(([name, value]) => (Array.isArray(value) ? value.flatMap((v) => [name, v]) : value === undefined ? [] : [name, value]));
    const headers = copyHeaders(raw, new Set([VERSION_HEADER, REQUEST_ID_HEADER]));
    headers.push(VERSION_HEADER, version, REQUEST_ID_HEADER, requestId);
    if (setCookie !== null) headers.push('set-cookie', setCookie);
    res.writeHead(statusCode, headers);
  };
  const fail = (err: Error & { code?: string }): void => {
    if (failed || res.destroyed) return;
    failed = true;
    const code: ErrorCode = err.code === 'UND_ERR_HEADERS_TIMEOUT' || err.code === 'UND_ERR_CONNECT_TIMEOUT' ? 'SY_ERR_UPSTREAM_TIMEOUT' : 'SY_ERR_UPSTREAM_CONNECT';
    log.warn({ requestId, service: route.name, version, target: target.origin, code }, err.message);
    if (res.headersSent) res.destroy();
    else sendProblem(res, code, `version ${version} of service ${route.name} failed: ${err.code ?? err.message}`, requestId, route.name, version);
  };

  const requestOptions = {
    path: req.url ?? '/',
    method: (req.method ?? 'GET') as 'GET',
    headers: upstreamHeaders(req, target, version, requestId),
    body: hasBody || options.body === 'always' ? req : null,
    signal,
    headersTimeout: route.config.timeouts.request,
    bodyTimeout: 0,
  };
  const pool = poolFor(target.origin);
  if (options.api === 'stream') {
    pool.stream(
      requestOptions,
      ({ statusCode, headers }) => {
        writeHead(statusCode, headers as IncomingHttpHeaders);
        return res;
      },
      (err) => {
        if (err !== null) fail(err);
      },
    );
    return;
  }
  pool.request(requestOptions).then(
    ({ statusCode, headers, body }) => {
      writeHead(statusCode, headers as IncomingHttpHeaders);
      body.on('error', () => res.destroy());
      body.pipe(res);
    },
    (err: Error) => fail(err),
  );
}
