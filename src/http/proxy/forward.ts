import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../../app/logger.js';
import { failedVersion, type Outcome, type RequestObserver, type ShadowObserver, type StaleRetryReason } from '../../app/request-observer.js';
import { violation } from '../../core/guardrail.js';
import { downstreamHeaders, REQUEST_ID_HEADER, upstreamHeaders, VERSION_HEADER } from './headers.js';
import { IdleTimer } from './idle-timer.js';
import { ResendableBody } from './replay-body.js';
import type { Routed } from './resolve.js';
import { sendProblem } from './respond.js';
import { ShadowCopy } from './shadow-copy.js';
import { staleConnection } from './stale-retry.js';
import { tlsFailure } from './tls-errors.js';
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

type Failure = 'timeout' | 'connect' | 'tls' | 'status' | 'guardrail' | 'response_idle';
/** The failures of an attempt that got no answer. */
type NoAnswer = 'timeout' | 'connect' | 'tls';

/**
 * Streams one request to a target of the assigned version and its answer back.
 * A candidate that fails (connect error, TLS failure, timeout, a configured status) gets the
 * request replayed once on stable when the body could be kept; the failure
 * still counts against the candidate. A request whose reused keep-alive
 * connection turns out stale is sent once more on a fresh one to the same
 * target, and one whose new connection is refused goes to another target of
 * the version; neither is a failure. Every attempt is counted once.
 *
 * Timeouts (`timeouts.*`): `connect` to get a connection; `idle` between two
 * chunks of the client's upload (408, the client's doing) and of the answer
 * (cut, the version's); `request` from the moment the whole request was sent
 * to the answer's headers (504), so a long upload is never held against the version.
 */
export function forward(req: IncomingMessage, res: ServerResponse, routed: Routed, requestId: string, ctx: ForwardContext): void {
  new Exchange(req, res, routed, requestId, ctx).send(routed.pool, null, 'new');
}

/**
 * How an attempt is sent: a new attempt to the pool's next target; the same
 * request once more to the same target on a fresh connection (the reused one
 * was stale); or once more to another target (this one refused the connection).
 */
type Sending = 'new' | 'fresh' | { readonly avoid: Target };

class Exchange {
  private readonly mayFallback: boolean;
  private readonly resendable: ResendableBody;
  private readonly shadow: ShadowCopy | null;
  private readonly idle: IdleTimer;
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt = performance.now();
  private attemptStartedAt = this.startedAt;
  /** The attempt in flight: its version, target, request and whole body (null when it streams from the client). */
  private pool: VersionPool;
  private target: Target | null = null;
  private upstream: ClientRequest | null = null;
  private body: Buffer | null = null;
  /** The attempt's socket and what it had read when the attempt got it: a stale connection reads nothing more. */
  private socket: Socket | null = null;
  private bytesReadBefore = 0;
  private status = 0;
  private outcome: Outcome = 'ok';
  /** The current attempt has its answer or its failure. */
  private settled = false;
  /** The request was already replayed on stable. */
  private retried = false;
  /** Why the current attempt was last sent again: on a fresh connection, or to another target. */
  private staleRetry: StaleRetryReason | undefined;
  /**
   * The resends the current attempt has had, each at most once: a stale connection's
   * on a fresh one, and a refused connection's to another target (which may meet a stale one).
   */
  private resentStale = false;
  private resentRefused = false;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly routed: Routed,
    private readonly requestId: string,
    private readonly ctx: ForwardContext,
  ) {
    const { fallback, timeouts } = routed.route.config;
    this.mayFallback = fallback.toStable && routed.pool !== routed.stable && routed.reason !== 'header';
    this.resendable = new ResendableBody(req, fallback.replayBodyBytes, this.mayFallback);
    this.pool = routed.pool;
    this.idle = new IdleTimer(timeouts.idle, () => (this.idle.watching(req) ? this.uploadStalled() : this.answerStalled()));
    this.shadow = routed.shadow === null ? null : new ShadowCopy(req, routed, routed.shadow, requestId, ctx.shadowObserver, ctx.now);
    // A client that goes away cancels the upstream request. The last attempt is counted here.
    res.on('close', () => {
      clearTimeout(this.timer);
      this.idle.stop();
      const finished = res.writableFinished;
      if (!finished) this.upstream?.destroy();
      const status = finished || this.outcome !== 'ok' ? this.status : CLIENT_CLOSED;
      this.record(status, this.outcome);
      if (ctx.accessLog) this.logAccess(status);
    });
  }

  /** Sends an attempt: `body` is the whole body of a replay, or null to stream the client's. */
  send(pool: VersionPool, body: Buffer | null, sending: Sending): void {
    const fresh = sending === 'fresh';
    const target = fresh && this.target !== null ? this.target : pool.pickOther(typeof sending === 'object' ? sending.avoid : null, this.ctx.now());
    this.pool = pool;
    this.target = target;
    this.body = body;
    this.socket = null;
    this.settled = false;
    // A resend is the same attempt: its time counts from the first.
    if (sending === 'new') {
      this.attemptStartedAt = performance.now();
      this.staleRetry = undefined;
      this.resentStale = false;
      this.resentRefused = false;
    }
    // A fresh attempt goes on a connection of its own: the pool's idle ones may be as stale as the one that failed.
    const upstream = target.request(this.req.method, this.req.url, upstreamHeaders(this.req, target, pool.version, this.requestId, false), fresh);
    this.upstream = upstream;
    upstream.on('socket', (socket: Socket) => this.onSocket(upstream, socket));
    upstream.on('finish', () => this.sent(upstream));
    upstream.on('response', (upRes) => {
      if (upstream === this.upstream) this.answer(upRes);
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => this.onError(upstream, err));
    if (body === null && this.resendable.streams) {
      this.streamBody(upstream);
    } else if (body !== null && body.length > 0) {
      // The client's upload is over: the timer now gives the version `timeouts.idle` to take the body.
      this.idle.watch(this.req);
      upstream.end(body);
    } else {
      // No body to stream (most GETs): no pipe to set up and tear down.
      upstream.end();
    }
  }

  /**
   * Pipes the client's body upstream, kept for a resend when the connection was
   * reused (it may be stale). Otherwise a new connection gets the body only once
   * it is up: until then the body stays unread with the client, so a refused
   * connection leaves it whole for another target. A body another reader (a
   * shadow's copy) already takes as it comes cannot wait: it is kept instead when
   * the version has another target.
   */
  private streamBody(upstream: ClientRequest): void {
    const read = this.req.listenerCount('data') > 0;
    if (upstream.reusedSocket || (read && this.pool.targets.length > 1)) this.resendable.keep();
    if (this.resendable.kept || read) {
      this.pipeBody(upstream);
      return;
    }
    upstream.once('socket', (socket: Socket) => {
      if (socket.connecting) socket.once('connect', () => this.pipeBody(upstream));
      else this.pipeBody(upstream);
    });
  }

  private pipeBody(upstream: ClientRequest): void {
    if (upstream !== this.upstream || this.settled) return;
    this.idle.watch(this.req);
    this.req.pipe(upstream);
  }

  /** A new connection has `timeouts.connect` to be ready: connected, and for https done with its handshake. */
  private onSocket(upstream: ClientRequest, socket: Socket): void {
    if (upstream !== this.upstream) return;
    this.socket = socket;
    this.bytesReadBefore = socket.bytesRead;
    if (!socket.connecting) return;
    const connectMs = this.routed.route.config.timeouts.connect;
    const connectTimer = setTimeout(() => this.fail('timeout', `no connection within ${connectMs} ms`), connectMs);
    socket.once(this.target?.readyEvent ?? 'connect', () => clearTimeout(connectTimer));
    socket.once('close', () => clearTimeout(connectTimer));
  }

  /** The whole request is upstream: from now on the version has `timeouts.request` to answer. */
  private sent(upstream: ClientRequest): void {
    if (upstream !== this.upstream || this.settled) return;
    if (this.idle.watching(this.req)) this.idle.stop();
    const requestMs = this.routed.route.config.timeouts.request;
    this.timer = setTimeout(() => this.fail('timeout', `no response headers within ${requestMs} ms of sending the request`), requestMs);
  }

  private onError(upstream: ClientRequest, err: NodeJS.ErrnoException): void {
    if (upstream !== this.upstream || this.settled || this.res.destroyed) return;
    const origin = this.target?.origin ?? '';
    // Checked first: a TLS failure is the version's, never a stale connection to send again.
    const tls = tlsFailure(err);
    if (tls !== null) {
      this.fail('tls', `${origin}: ${tls}`);
      return;
    }
    const why = `${origin}: ${err.code ?? err.message}`;
    // A refused connection carried nothing (the body waits for the connection, or a copy is kept): another target may take it.
    if (err.code === 'ECONNREFUSED' && !this.resentRefused && this.target !== null && this.pool.targets.length > 1) {
      this.resendRefused(this.target, why);
      return;
    }
    const stale = this.resentStale ? null : staleConnection(upstream, this.socket, this.bytesReadBefore, err);
    if (stale !== null && (this.body !== null || this.resendable.kept)) this.resendFresh(stale, why);
    else this.fail('connect', why);
  }

  /** The target refused the connection: passive health hears of it, and another target of the version gets the request, once. */
  private resendRefused(target: Target, why: string): void {
    this.settled = true;
    clearTimeout(this.timer);
    const pool = this.pool;
    pool.report(target, false, this.ctx.now());
    this.staleRetry = 'refused';
    this.resentRefused = true;
    const { route } = this.routed;
    this.ctx.log.info({ requestId: this.requestId, service: route.name, version: pool.version, target: target.origin }, `sending to another target: ${why}`);
    if (this.body !== null || !this.resendable.kept) {
      this.send(pool, this.body, { avoid: target });
      return;
    }
    this.whenResendable((body) => {
      if (this.res.headersSent || this.res.destroyed) return;
      if (body === null) {
        this.failed('connect', `${why}, and the request body was too large to send again`);
        return;
      }
      this.send(pool, body, { avoid: target });
    });
  }

  /** The stale connection is not the version's failure: the same request goes again on a fresh one, once. */
  private resendFresh(reason: StaleRetryReason, why: string): void {
    this.settled = true;
    clearTimeout(this.timer);
    const pool = this.pool;
    this.whenResendable((body) => {
      if (this.res.headersSent || this.res.destroyed) return;
      if (body === null) {
        this.failed('connect', `${why} on a reused connection, and the request body was too large to send again`);
        return;
      }
      this.staleRetry = reason;
      this.resentStale = true;
      this.send(pool, body, 'fresh');
    });
  }

  private answer(upRes: IncomingMessage): void {
    if (this.settled || this.res.destroyed) return;
    this.settled = true;
    clearTimeout(this.timer);
    const pool = this.pool;
    if (this.target !== null) pool.report(this.target, true, this.ctx.now());
    const status = upRes.statusCode ?? 502;
    if (this.canFallback() && this.routed.route.config.fallback.statuses.includes(status)) {
      upRes.resume();
      this.fallback('status', status);
      return;
    }
    this.idle.watchToEnd(upRes);
    this.shadow?.teeAnswer(upRes, status);
    const guard = this.routed.route.config.guardrail;
    if (guard !== undefined && status >= 200 && status < 300) {
      this.inspect(pool, upRes, status, guard);
      return;
    }
    this.writeHead(pool, upRes, status, null);
    upRes.pipe(this.res);
    upRes.on('error', () => this.cut());
  }

  /** The answer broke off: the client's is cut too, unless it was already whole (a problem sent in its place). */
  private cut(): void {
    if (!this.res.writableEnded) this.res.destroy();
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
      const replayable = this.canFallback() ? (this.body ?? this.resendable.now()) : null;
      if (guard.action === 'serve-stable' && replayable !== null) {
        this.retried = true;
        this.record(status, 'guardrail');
        this.ctx.onFallback(route.name, pool.version, this.routed.stable.version);
        this.send(this.routed.stable, replayable, 'new');
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
    upRes.on('data', onData).on('end', onEnd).on('error', () => this.cut());
  }

  /**
   * No chunk of the client's upload for `timeouts.idle`, or no end of sending
   * it upstream. When the client sent it all, or the version stopped reading it
   * (the pipe waits on it), the stall is the version's; otherwise the client
   * gets a 408 and the version is not blamed.
   */
  private uploadStalled(): void {
    const idleMs = this.idle.idleMs;
    if (!this.settled && (this.req.readableEnded || this.upstream?.writableNeedDrain === true)) {
      this.fail('timeout', `stopped reading the request body for ${idleMs} ms`);
      return;
    }
    this.idle.stop();
    this.settled = true;
    clearTimeout(this.timer);
    this.upstream?.destroy();
    // A candidate's failure waiting for the body to be replayed on stable still counts.
    if (failedVersion(this.outcome)) this.record(this.status, this.outcome);
    this.outcome = 'upload_idle';
    this.status = 408;
    const { route } = this.routed;
    const version = this.pool.version;
    this.ctx.log.info({ requestId: this.requestId, service: route.name, version }, `upload stalled for ${idleMs} ms`);
    // The rest of the body will not be read: the connection cannot carry another request.
    this.res.setHeader('connection', 'close');
    const detail = `request for version ${version} of service ${route.name}: the client sent no request body for ${idleMs} ms`;
    sendProblem(this.res, 'SY_ERR_REQUEST_TIMEOUT', detail, this.requestId, route.name, version);
  }

  /**
   * No chunk of the answer for `timeouts.idle`: the version stalled, unless the
   * client stopped reading (the pipe waits on it), which is given more time.
   */
  private answerStalled(): void {
    if (this.res.writableNeedDrain) {
      this.idle.extend();
      return;
    }
    this.idle.stop();
    const why = `the answer stopped for ${this.idle.idleMs} ms after its headers`;
    const { route } = this.routed;
    const target = this.target?.origin;
    this.ctx.log.warn({ requestId: this.requestId, service: route.name, version: this.pool.version, target, failure: 'response_idle' }, why);
    this.upstream?.destroy();
    this.giveUp(this.pool.version, 'response_idle', why);
  }

  private fail(failure: NoAnswer, why: string): void {
    if (this.settled || this.res.destroyed) return;
    this.settled = true;
    this.failed(failure, why);
  }

  /** The current attempt failed for real: passive health hears of it, then stable or an explicit error answers. */
  private failed(failure: NoAnswer, why: string): void {
    clearTimeout(this.timer);
    this.upstream?.destroy();
    const { pool, target } = this;
    if (target !== null) pool.report(target, false, this.ctx.now());
    const { route } = this.routed;
    this.ctx.log.warn({ requestId: this.requestId, service: route.name, version: pool.version, target: target?.origin, failure }, why);
    if (this.canFallback()) {
      this.fallback(failure, failure === 'timeout' ? 504 : 502);
      return;
    }
    this.giveUp(pool.version, failure, why);
  }

  private canFallback(): boolean {
    return this.mayFallback && !this.retried && this.pool !== this.routed.stable && !this.res.headersSent;
  }

  /** The whole body to send again, once the client sent it all: the attempt's own when it was a resend. */
  private whenResendable(callback: (body: Buffer | null) => void): void {
    if (this.body !== null) callback(this.body);
    else this.resendable.whenComplete(callback);
  }

  /** Replays on stable once the whole body is in hand; the candidate's failure is counted either way. */
  private fallback(failure: Failure, status: number): void {
    this.retried = true;
    this.status = status;
    this.outcome = failure;
    const from = this.pool.version;
    const stable = this.routed.stable;
    this.whenResendable((body) => {
      if (this.res.headersSent || this.res.destroyed) return;
      if (body === null) {
        this.giveUp(from, failure, 'the request body was too large to replay on stable');
        return;
      }
      this.record(status, failure);
      this.status = 0;
      this.outcome = 'ok';
      this.ctx.onFallback(this.routed.route.name, from, stable.version);
      this.send(stable, body, 'new');
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
    const timedOut = failure === 'timeout' || failure === 'response_idle';
    this.status = timedOut ? 504 : 502;
    const detail = `version ${version} of service ${route.name} failed: ${why}`;
    const code = timedOut ? 'SY_ERR_UPSTREAM_TIMEOUT' : failure === 'tls' ? 'SY_ERR_UPSTREAM_TLS' : 'SY_ERR_UPSTREAM_CONNECT';
    sendProblem(this.res, code, detail, this.requestId, route.name, version);
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

  private logAccess(status: number): void {
    const durationMs = Math.round(performance.now() - this.startedAt);
    const { requestId, outcome, staleRetry } = this;
    this.ctx.log.info({ requestId, service: this.routed.route.name, version: this.pool.version, status, outcome, staleRetry, durationMs }, 'request');
  }

  private record(status: number, outcome: Outcome): void {
    const { route, key } = this.routed;
    const latencyMs = performance.now() - this.attemptStartedAt;
    this.ctx.observer.observe({ service: route.name, version: this.pool.version, key, status, outcome, latencyMs, staleRetry: this.staleRetry });
    this.shadow?.liveDone({ status, outcome, latencyMs });
  }
}
