import { request, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../../app/logger.js';
import type { Outcome, RequestObserver, ShadowObserver } from '../../app/request-observer.js';
import { violation } from '../../core/guardrail.js';
import { downstreamHeaders, REQUEST_ID_HEADER, upstreamHeaders, VERSION_HEADER } from './headers.js';
import { ReplayBody } from './replay-body.js';
import type { Routed } from './resolve.js';
import { sendProblem } from './respond.js';
import { ShadowCopy } from './shadow-copy.js';
import type { Target, VersionPool } from './upstream-pool.js';

export interface ForwardContext {
  readonly log: Logger;
  readonly observer: RequestObserver;
  /** Where mirrored pairs and dropped copies are counted. */
  readonly shadowObserver: ShadowObserver;
  /** A failed candidate request was sent to `to` (a version, or `fallback-response`). */
  readonly onFallback: (service: string, from: string, to: string) => void;
  readonly now: () => number;
  /** Log one line per client request (off by default: it costs throughput). */
  readonly accessLog: boolean;
}

type Guardrail = NonNullable<Routed['route']['config']['guardrail']>;

/** nginx's code for "the client closed the request": not the version's fault, not an error. */
const CLIENT_CLOSED = 499;

type Failure = 'timeout' | 'connect' | 'status' | 'guardrail';

/**
 * Streams one request to a target of the assigned version and its answer back.
 * A candidate that fails (connect error, timeout, a configured status) gets the
 * request replayed once on stable when the body could be kept; the failure
 * still counts against the candidate. Every attempt is counted once.
 */
export function forward(req: IncomingMessage, res: ServerResponse, routed: Routed, requestId: string, ctx: ForwardContext): void {
  new Exchange(req, res, routed, requestId, ctx).send(routed.pool, null);
}

/** RFC 9112 §6.3: a request has a body only when it says so with Content-Length or Transfer-Encoding. */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

class Exchange {
  private readonly replay: ReplayBody | null;
  private readonly shadow: ShadowCopy | null;
  private upstream: ClientRequest | null = null;
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt = performance.now();
  private attemptStartedAt = this.startedAt;
  private version: string;
  private status = 0;
  private outcome: Outcome = 'ok';
  /** The current attempt has its answer or its failure. */
  private settled = false;
  private retried = false;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly routed: Routed,
    private readonly requestId: string,
    private readonly ctx: ForwardContext,
  ) {
    const { fallback } = routed.route.config;
    const mayRetry = fallback.toStable && routed.pool !== routed.stable && routed.reason !== 'header';
    this.replay = mayRetry ? new ReplayBody(req, fallback.replayBodyBytes) : null;
    this.version = routed.pool.version;
    this.shadow = routed.shadow === null ? null : new ShadowCopy(req, routed, routed.shadow, requestId, ctx.shadowObserver, ctx.now);
    // A client that goes away cancels the upstream request. The last attempt is counted here.
    res.on('close', () => {
      clearTimeout(this.timer);
      const finished = res.writableFinished;
      if (!finished) this.upstream?.destroy();
      const status = finished || this.outcome !== 'ok' ? this.status : CLIENT_CLOSED;
      this.record(status, this.outcome);
      if (ctx.accessLog) {
        const { route } = routed;
        ctx.log.info({ requestId, service: route.name, version: this.version, status, outcome: this.outcome, durationMs: Math.round(performance.now() - this.startedAt) }, 'request');
      }
    });
  }

  send(pool: VersionPool, body: Buffer | null): void {
    const target = pool.pick(this.ctx.now());
    const { connect: connectMs, request: requestMs } = this.routed.route.config.timeouts;
    this.version = pool.version;
    this.settled = false;
    this.attemptStartedAt = performance.now();
    const upstream = request({
      host: target.hostname,
      port: target.port,
      method: this.req.method,
      path: this.req.url,
      agent: target.agent,
      headers: upstreamHeaders(this.req, target, pool.version, this.requestId, false),
    });
    this.upstream = upstream;
    // Time to response headers; a streaming body after that is not cut.
    this.timer = setTimeout(() => this.fail(pool, target, 'timeout', `no response within ${requestMs} ms`), requestMs);
    upstream.on('socket', (socket: Socket) => {
      if (!socket.connecting) return;
      const connectTimer = setTimeout(() => this.fail(pool, target, 'timeout', `no connection within ${connectMs} ms`), connectMs);
      socket.once('connect', () => clearTimeout(connectTimer));
      socket.once('close', () => clearTimeout(connectTimer));
    });
    upstream.on('response', (upRes) => this.answer(pool, target, upRes));
    upstream.on('error', (err: NodeJS.ErrnoException) => this.fail(pool, target, 'connect', `${target.origin}: ${err.code ?? err.message}`));
    if (body !== null) upstream.end(body);
    else if (hasBody(this.req)) this.req.pipe(upstream);
    // No body to stream (most GETs): no pipe to set up and tear down.
    else upstream.end();
  }

  private answer(pool: VersionPool, target: Target, upRes: IncomingMessage): void {
    if (this.settled || this.res.destroyed) return;
    this.settled = true;
    clearTimeout(this.timer);
    pool.report(target, true, this.ctx.now());
    const status = upRes.statusCode ?? 502;
    if (this.canRetry(pool) && this.routed.route.config.fallback.statuses.includes(status)) {
      upRes.resume();
      this.retry(pool, 'status', status);
      return;
    }
    this.shadow?.teeAnswer(upRes, status);
    const guard = this.routed.route.config.guardrail;
    if (guard !== undefined && status >= 200 && status < 300) {
      this.inspect(pool, upRes, status, guard);
      return;
    }
    this.writeHead(pool, upRes, status, null);
    upRes.pipe(this.res);
    upRes.on('error', () => this.res.destroy());
  }

  private writeHead(pool: VersionPool, upRes: IncomingMessage, status: number, bodyLength: number | null): void {
    const headers = downstreamHeaders(upRes, pool.version, this.requestId, bodyLength);
    const { setCookie } = this.routed;
    if (setCookie !== null) headers.push('set-cookie', setCookie);
    this.status = status;
    this.outcome = status >= 500 ? 'status' : 'ok';
    this.res.writeHead(status, upRes.statusMessage, headers);
  }

  /**
   * Buffers a successful answer (up to the cap) to judge it against the
   * prediction guardrail; a larger one streams through unjudged.
   */
  private inspect(pool: VersionPool, upRes: IncomingMessage, status: number, guard: Guardrail): void {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size <= guard.maxBodyBytes) return;
      upRes.off('data', onData).off('end', onEnd);
      this.writeHead(pool, upRes, status, null);
      for (const c of chunks) this.res.write(c);
      upRes.pipe(this.res);
    };
    const onEnd = () => {
      const body = Buffer.concat(chunks);
      const why = violation(body.toString('utf8'), guard.rule);
      if (why === null) {
        this.writeHead(pool, upRes, status, body.length);
        this.res.end(body);
        return;
      }
      const { route } = this.routed;
      this.ctx.log.warn({ requestId: this.requestId, service: route.name, version: pool.version, action: guard.action }, `guardrail: ${why}`);
      const replayable = this.canRetry(pool) ? this.replay?.peek() : null;
      if (guard.action === 'serve-stable' && replayable !== null && replayable !== undefined) {
        this.retried = true;
        this.record(status, 'guardrail');
        this.ctx.onFallback(route.name, pool.version, this.routed.stable.version);
        this.send(this.routed.stable, replayable);
        return;
      }
      if (guard.action === 'constant') {
        this.outcome = 'guardrail';
        this.sendFallbackResponse(pool.version);
        return;
      }
      this.writeHead(pool, upRes, status, body.length);
      this.outcome = 'guardrail';
      this.res.end(body);
    };
    upRes.on('data', onData).on('end', onEnd).on('error', () => this.res.destroy());
  }

  private fail(pool: VersionPool, target: Target, failure: 'timeout' | 'connect', why: string): void {
    if (this.settled || this.res.destroyed) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.upstream?.destroy();
    pool.report(target, false, this.ctx.now());
    const { route } = this.routed;
    this.ctx.log.warn({ requestId: this.requestId, service: route.name, version: pool.version, target: target.origin, failure }, why);
    if (this.canRetry(pool)) {
      this.retry(pool, failure, failure === 'timeout' ? 504 : 502);
      return;
    }
    this.giveUp(pool.version, failure, why);
  }

  private canRetry(pool: VersionPool): boolean {
    return this.replay !== null && !this.retried && pool !== this.routed.stable && !this.res.headersSent;
  }

  /** Replays on stable once the whole body is in hand; the candidate's failure is counted either way. */
  private retry(pool: VersionPool, failure: Failure, status: number): void {
    this.retried = true;
    this.status = status;
    this.outcome = failure;
    const stable = this.routed.stable;
    this.replay?.whenComplete((body) => {
      if (this.res.destroyed) return;
      if (body === null) {
        this.giveUp(pool.version, failure, 'the request body was too large to replay on stable');
        return;
      }
      this.record(status, failure);
      this.status = 0;
      this.outcome = 'ok';
      this.ctx.onFallback(this.routed.route.name, pool.version, stable.version);
      this.send(stable, body);
    });
  }

  /** No version can answer: the configured fallback response, else an explicit problem. */
  private giveUp(version: string, failure: Failure, why: string): void {
    const { route } = this.routed;
    this.outcome = failure;
    if (this.res.headersSent) {
      this.res.destroy();
      return;
    }
    if (route.config.fallback.response !== undefined) {
      this.sendFallbackResponse(version);
      return;
    }
    const code = failure === 'timeout' ? 'SY_ERR_UPSTREAM_TIMEOUT' : 'SY_ERR_UPSTREAM_CONNECT';
    this.status = failure === 'timeout' ? 504 : 502;
    sendProblem(this.res, code, `version ${version} of service ${route.name} failed: ${why}`, this.requestId, route.name, version);
  }

  /** The service's configured answer for when no version can answer. */
  private sendFallbackResponse(version: string): void {
    const configured = this.routed.route.config.fallback.response;
    if (configured === undefined) return;
    this.ctx.onFallback(this.routed.route.name, version, 'fallback-response');
    this.status = configured.status;
    const body = JSON.stringify(configured.body ?? null);
    this.res.writeHead(configured.status, {
      'content-type': 'application/json',
      ...configured.headers,
      'content-length': Buffer.byteLength(body),
      [REQUEST_ID_HEADER]: this.requestId,
      [VERSION_HEADER]: 'fallback',
    });
    this.res.end(body);
  }

  private record(status: number, outcome: Outcome): void {
    const { route, key } = this.routed;
    const latencyMs = performance.now() - this.attemptStartedAt;
    this.ctx.observer.observe({ service: route.name, version: this.version, key, status, outcome, latencyMs });
    this.shadow?.liveDone({ status, outcome, latencyMs });
  }
}
