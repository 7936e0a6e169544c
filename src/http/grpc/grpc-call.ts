import { constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type IncomingHttpStatusHeader, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { Outcome } from '../../app/request-observer.js';
import type { ServiceConfig } from '../../config/schema.js';
import {
  encodeGrpcMessage,
  formatGrpcTimeout,
  GRPC_CANCELLED,
  GRPC_DEADLINE_EXCEEDED,
  GRPC_INTERNAL,
  GRPC_OK,
  GRPC_UNAVAILABLE,
  grpcCodeName,
  grpcCodeOfHttpStatus,
  parseGrpcTimeout,
  readGrpcStatus,
} from '../../core/grpc-status.js';
import type { AnswerDecoder } from '../../grpc-proto/answer-decoder.js';
import type { ForwardContext } from '../proxy/forward.js';
import { REQUEST_ID_HEADER, VERSION_HEADER } from '../proxy/headers.js';
import { sessionCause } from '../proxy/h2-connection.js';
import { ReplayBody } from '../proxy/replay-body.js';
import type { Routed } from '../proxy/resolve.js';
import { tlsFailure } from '../proxy/tls-errors.js';
import type { Target, VersionPool } from '../proxy/upstream-pool.js';
import { outcomeOf } from './call-outcome.js';
import { GrpcShadowCopy } from './grpc-shadow.js';
import { grpcViolation, HeldAnswer } from './held-answer.js';

const { NGHTTP2_CANCEL, NGHTTP2_NO_ERROR, NGHTTP2_INTERNAL_ERROR, NGHTTP2_REFUSED_STREAM, NGHTTP2_FLAG_END_STREAM } = constants;

/** A session that began closing (GOAWAY) between being handed out and used: the stream was never opened. */
const SESSION_GONE = new Set(['ERR_HTTP2_GOAWAY_SESSION', 'ERR_HTTP2_INVALID_SESSION']);

/** Request metadata the gateway sets itself upstream, and connection-specific fields HTTP/2 forbids. */
const SET_UPSTREAM = new Set(['host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'grpc-timeout', REQUEST_ID_HEADER, VERSION_HEADER, 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);
/** Response metadata the gateway sets itself for the client. */
const SET_DOWNSTREAM = new Set([REQUEST_ID_HEADER, VERSION_HEADER]);

/** nginx's code for "the client closed the request", as the HTTP side records it. */
const CLIENT_CLOSED = 499;

/**
 * A client that cancels this close to its deadline (5 % of it, at least 50 ms)
 * cancelled because of it: its clock started before the gateway's did.
 */
const deadlineSlackMs = (timeoutMs: number) => Math.max(50, timeoutMs * 0.05);

/** A service's prediction guardrail with the decoder that reads its answers. */
type Guard = NonNullable<ServiceConfig['guardrail']> & { readonly answers: AnswerDecoder };

/** What the client and the forwarding headers say about a call, decided by the listener. */
export interface CallArrival {
  /** The address of the client's connection, for X-Forwarded-For. */
  readonly remote: string;
  readonly scheme: 'http' | 'https';
  /** The host a trusted hop says it asked for, else :authority. */
  readonly forwardedHost: string | undefined;
}

/**
 * Relays one gRPC call to a target of its version and the answer back, as
 * HTTP/2 frames arrive: messages are never buffered whole (each side is read
 * only as fast as the other takes it, so flow control reaches the far end),
 * trailers pass unchanged, and a cancellation or reset on either side reaches
 * the other. The call's outcome comes from `grpc-status`, not the HTTP status.
 *
 * A candidate that cannot be reached, or that answers UNAVAILABLE before any
 * response message, gets the call replayed once on stable when the request's
 * messages were kept (`fallback.replayBodyBytes`, which a unary call fits);
 * its response headers are held back until its first message for that. A
 * call the model never processed (a refused stream, a refused connection with
 * another target to try) is sent once more to its own version, as grpc-js
 * does. With the service's .proto, a unary answer is held until complete and
 * judged by the prediction guardrail. Any other failure is a gRPC error
 * naming service, version and request id.
 */
export function relayGrpc(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, routed: Routed, requestId: string, arrival: CallArrival, ctx: ForwardContext): void {
  new GrpcCall(stream, headers, routed, requestId, arrival, ctx).send(routed.pool, null);
}

class GrpcCall {
  /** The request's messages, kept (up to `fallback.replayBodyBytes`) to send them again: on stable, or after a refused stream. */
  private readonly kept: ReplayBody;
  private readonly mayFallback: boolean;
  /** The prediction guardrail of a unary method of the service's .proto; null when there is none to apply. */
  private readonly guard: Guard | null;
  /** The current attempt's answer, held until complete to be judged by `guard`. */
  private held: HeldAnswer | null = null;
  /** Set once the current attempt's stream was refused unprocessed and the call sent again. */
  private refusedRetry: 'refused' | undefined;
  private readonly shadow: GrpcShadowCopy | null;
  private readonly timeoutMs: number | null;
  private readonly deadlineAt: number | null;
  private deadlineTimer: NodeJS.Timeout | undefined;
  /** Attempts made so far; a session handed out late to an earlier one is not used. */
  private attempts = 0;
  private pool: VersionPool;
  private target: Target | null = null;
  private upstream: ClientHttp2Stream | null = null;
  private attemptStartedAt = performance.now();
  private firstMessageAt: number | null = null;
  /** The current attempt's response headers, held until its first message while a replay is possible. */
  private upHeaders: IncomingHttpHeaders | null = null;
  private upTrailers: IncomingHttpHeaders | null = null;
  /** Why the current attempt failed before its end, from its error event. */
  private attemptFailure: { outcome: 'connect' | 'tls' | 'timeout'; why: string } | null = null;
  /** The current attempt is over (answered, failed, or replaced). */
  private attemptOver = false;
  private retried = false;
  /** Response headers went to the client. */
  private responded = false;
  /** The answer to the client is complete, or the gateway gave up on it. */
  private done = false;
  private trailersOut: OutgoingHttpHeaders = {};
  private outcome: Outcome = 'ok';
  private grpcStatus: number | undefined;

  constructor(
    private readonly stream: ServerHttp2Stream,
    private readonly headers: IncomingHttpHeaders,
    private readonly routed: Routed,
    private readonly requestId: string,
    private readonly arrival: CallArrival,
    private readonly ctx: ForwardContext,
  ) {
    const { fallback } = routed.route.config;
    this.pool = routed.pool;
    const mayFallback = fallback.toStable && routed.pool !== routed.stable && routed.reason !== 'header';
    // Held until the target's session is ready and piped: the copies' data listeners must not set it flowing before.
    stream.pause();
    this.mayFallback = mayFallback;
    this.kept = new ReplayBody(stream, fallback.replayBodyBytes);
    const { answers } = routed.route;
    const { guardrail } = routed.route.config;
    this.guard = guardrail !== undefined && answers !== null && answers.unaryAnswer(routed.path) ? { ...guardrail, answers } : null;
    const { shadow } = routed;
    this.shadow = shadow === null ? null : new GrpcShadowCopy(stream, routed, shadow, (t, v) => this.upstreamHeaders(t, v), ctx.shadowObserver, ctx.now);
    this.timeoutMs = parseGrpcTimeout(headers['grpc-timeout']);
    this.deadlineAt = this.timeoutMs === null ? null : performance.now() + this.timeoutMs;
    if (this.timeoutMs !== null) this.deadlineTimer = setTimeout(() => this.deadlineExceeded(), this.timeoutMs);
    stream.on('wantTrailers', () => stream.sendTrailers(this.trailersOut));
    stream.on('error', () => undefined);
    stream.once('close', () => this.clientClosed());
  }

  /**
   * Opens an attempt on `pool`, once its target's session is ready: `body` is
   * the whole request of a replay, or null to stream the client's (which waits,
   * paused, until then).
   */
  send(pool: VersionPool, body: Buffer | null, avoid: Target | null = null): void {
    const resend = avoid !== null;
    const target = pool.pickOther(avoid, this.ctx.now());
    this.pool = pool;
    this.target = target;
    // A resend of a refused call is the same attempt: its time counts from the first.
    if (!resend) {
      this.attemptStartedAt = performance.now();
      this.refusedRetry = undefined;
    }
    this.firstMessageAt = null;
    this.upHeaders = null;
    this.upTrailers = null;
    this.attemptFailure = null;
    this.attemptOver = false;
    // The last attempt's stream may still end or close: none of its events concern this one.
    this.upstream = null;
    const attempt = ++this.attempts;
    target.h2Session(this.routed.route.config.timeouts.connect, (session, failure) => {
      // The client left, the deadline passed, or a later attempt replaced this one while it waited.
      if (attempt !== this.attempts || this.attemptOver || this.done) return;
      if (session !== null) {
        this.open(session, target, body);
        return;
      }
      if (failure === null || failure.timedOut) {
        this.attemptFailed('timeout', `${target.origin}: no connection within ${failure?.timedOut === true ? failure.connectMs : 0} ms`);
        return;
      }
      const [outcome, why] = describeFailure(failure.error);
      // A connection refused carried nothing: another target of the version may take the call.
      if (failure.error.code === 'ECONNREFUSED' && pool.targets.length > 1) {
        pool.report(target, false, this.ctx.now());
        this.resendRefused(`${target.origin}: ${why}`);
        return;
      }
      this.attemptFailed(outcome, `${target.origin}: ${why}`);
    });
  }

  private open(session: ClientHttp2Session, target: Target, body: Buffer | null): void {
    let upstream: ClientHttp2Stream;
    try {
      upstream = session.request(this.upstreamHeaders(target, this.pool.version), { endStream: false });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = `${target.origin}: ${code ?? (err as Error).message}`;
      if (code !== undefined && SESSION_GONE.has(code)) this.resendRefused(why);
      else this.attemptFailed('connect', why);
      return;
    }
    this.upstream = upstream;
    upstream.on('response', (h, flags) => {
      if (upstream === this.upstream) this.onResponse(h, flags);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (upstream === this.upstream) this.onData(upstream, chunk);
    });
    upstream.on('trailers', (t) => {
      if (upstream === this.upstream) this.upTrailers = t;
    });
    upstream.on('end', () => {
      if (upstream === this.upstream) this.onEnd();
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      if (upstream !== this.upstream || this.attemptFailure !== null) return;
      const [outcome, why] = describeFailure(sessionCause(err));
      this.attemptFailure = { outcome, why: `${target.origin}: ${why}` };
    });
    upstream.on('close', () => {
      if (upstream === this.upstream) this.onUpstreamClose(upstream);
    });
    if (body === null) this.stream.pipe(upstream);
    else upstream.end(body);
  }

  private upstreamHeaders(target: Target, version: string): OutgoingHttpHeaders {
    const out: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(this.headers)) {
      if (name.startsWith(':') || SET_UPSTREAM.has(name) || value === undefined) continue;
      out[name] = value;
    }
    out[':method'] = this.headers[':method'] ?? 'POST';
    out[':path'] = this.routed.path;
    out[':scheme'] = target.secure ? 'https' : 'http';
    out[':authority'] = target.host;
    const prior = this.headers['x-forwarded-for'];
    out['x-forwarded-for'] = prior === undefined ? this.arrival.remote : `${String(prior)}, ${this.arrival.remote}`;
    out['x-forwarded-proto'] = this.arrival.scheme;
    if (this.arrival.forwardedHost !== undefined) out['x-forwarded-host'] = this.arrival.forwardedHost;
    out[REQUEST_ID_HEADER] = this.requestId;
    out[VERSION_HEADER] = version;
    // A replay gets what is left of the client's deadline, not the whole of it again.
    if (this.deadlineAt !== null) out['grpc-timeout'] = formatGrpcTimeout(this.deadlineAt - performance.now());
    return out;
  }

  private onResponse(headers: IncomingHttpHeaders & IncomingHttpStatusHeader, flags: number): void {
    if (this.attemptOver || this.done) return;
    if (this.target !== null) this.pool.report(this.target, true, this.ctx.now());
    const status = headers[':status'] ?? 0;
    if (status !== 200) {
      // Not a gRPC answer (a proxy's or a plain HTTP server's): gRPC's own table gives the code.
      this.upstream?.close(NGHTTP2_CANCEL);
      this.answered(grpcCodeOfHttpStatus(status), `version ${this.pool.version} answered HTTP status ${status}, not a gRPC response`, null, null);
      return;
    }
    if ((flags & NGHTTP2_FLAG_END_STREAM) !== 0 || headers['grpc-status'] !== undefined) {
      // Trailers-only: the status without any message.
      this.answered(readGrpcStatus(headers['grpc-status']), null, headers, null);
      return;
    }
    this.upHeaders = headers;
    this.held = this.guard === null ? null : new HeldAnswer(this.guard.maxBodyBytes);
    if (!this.mayReplay() && this.held === null) this.respond(headers);
  }

  private onData(upstream: ClientHttp2Stream, chunk: Buffer): void {
    if (this.done) return;
    this.firstMessageAt ??= performance.now();
    this.shadow?.teeAnswer(chunk, this.upHeaders?.['grpc-encoding']);
    const held = this.held;
    if (held !== null) {
      if (held.keep(chunk)) return;
      // Too large to judge: what was held goes on, and the rest streams.
      this.held = null;
      const chunks = held.release();
      chunk = chunks.pop() ?? chunk;
      if (!this.responded && this.upHeaders !== null) this.respond(this.upHeaders);
      for (const c of chunks) this.stream.write(c);
    }
    if (!this.responded && this.upHeaders !== null) this.respond(this.upHeaders);
    if (!this.stream.write(chunk)) {
      // The client reads slower than the version writes: stop reading the version, and flow control holds it back.
      upstream.pause();
      this.stream.once('drain', () => upstream.resume());
    }
  }

  private onEnd(): void {
    if (this.attemptOver || this.done) return;
    const trailers = this.upTrailers;
    if (trailers === null) {
      this.answered(GRPC_INTERNAL, `version ${this.pool.version} ended the call without a grpc-status trailer`, this.upHeaders, null);
      return;
    }
    this.answered(readGrpcStatus(trailers['grpc-status']), null, this.upHeaders, trailers);
  }

  /**
   * The version's answer is complete with `code`: replayed on stable when it
   * is an UNAVAILABLE before any message and a replay is possible, else ended
   * for the client with the version's trailers (or the gateway's `message`).
   */
  private answered(code: number, message: string | null, headers: IncomingHttpHeaders | null, trailers: IncomingHttpHeaders | null): void {
    this.attemptOver = true;
    if (code === GRPC_UNAVAILABLE && this.mayReplay()) {
      this.fallback('status', `answered UNAVAILABLE${message === null ? '' : ` (${message})`}`, code);
      return;
    }
    const held = this.held?.release() ?? null;
    this.held = null;
    const broken = held === null || code !== GRPC_OK ? null : this.judge(held, headers);
    if (broken !== null && this.guard?.action === 'serve-stable' && this.mayReplay()) {
      this.fallback('guardrail', `guardrail: ${broken}`, code);
      return;
    }
    this.grpcStatus = code;
    this.outcome = broken !== null ? 'guardrail' : outcomeOf(code, this.routed.route.failingCodes);
    if (message !== null) {
      this.endWithStatus(code, `${message} (request id ${this.requestId})`);
      return;
    }
    const end = trailers ?? headers ?? {};
    if (!this.responded && trailers === null) {
      // Trailers-only stays trailers-only.
      this.respondEnd(copyMetadata(end));
      return;
    }
    if (!this.responded) this.respond(headers ?? {});
    for (const chunk of held ?? []) this.stream.write(chunk);
    this.trailersOut = copyMetadata(end);
    this.done = true;
    this.stream.end();
  }

  /** Why the held answer breaks the guardrail, logged; null when it keeps to it. */
  private judge(held: Buffer[], headers: IncomingHttpHeaders | null): string | null {
    const guard = this.guard;
    if (guard === null) return null;
    const encoding = headers?.['grpc-encoding'];
    const why = grpcViolation(guard.answers, this.routed.path, Buffer.concat(held), typeof encoding === 'string' ? encoding : undefined, guard.rule);
    if (why !== null) {
      const { requestId, routed, pool } = this;
      this.ctx.log.warn({ requestId, service: routed.route.name, version: pool.version, action: guard.action }, `guardrail: ${why}`);
    }
    return why;
  }

  /** The attempt failed without an answer: stable gets the call when it can, else the client a gRPC error. */
  private onUpstreamClose(upstream: ClientHttp2Stream): void {
    if (this.attemptOver || this.done) return;
    const failure = this.attemptFailure ?? { outcome: 'connect' as const, why: `${this.target?.origin ?? ''}: stream reset (HTTP/2 code ${upstream.rstCode ?? NGHTTP2_NO_ERROR})` };
    if (this.responded && upstream.rstCode === NGHTTP2_CANCEL) {
      // The version cancelled the call mid-answer: the client sees the same.
      this.attemptOver = true;
      this.grpcStatus = GRPC_CANCELLED;
      this.outcome = outcomeOf(GRPC_CANCELLED, this.routed.route.failingCodes);
      this.done = true;
      this.stream.close(NGHTTP2_CANCEL);
      return;
    }
    if (upstream.rstCode === NGHTTP2_REFUSED_STREAM && !this.responded && this.upHeaders === null) {
      this.resendRefused(failure.why);
      return;
    }
    this.attemptFailed(failure.outcome, failure.why);
  }

  /**
   * The call never reached the model: the server refused its stream
   * unprocessed (RFC 9113 §8.7), as a model server shutting down gracefully
   * does with calls that raced its GOAWAY, or one of several targets refused
   * the connection (a server restarting). The call goes once more to its
   * version, on a live session and the next target in rotation, the way
   * grpc-js retries such a call transparently. Not the version's failure.
   */
  private resendRefused(why: string): void {
    if (this.refusedRetry !== undefined || this.kept.tooLarge) {
      this.attemptFailed('connect', `${why} (stream refused)`);
      return;
    }
    this.attemptOver = true;
    this.refusedRetry = 'refused';
    const refused = this.upstream;
    if (refused !== null) this.stream.unpipe(refused);
    // The unpipe paused the client's stream: the copy still needs the rest of it.
    this.stream.resume();
    const { pool, target } = this;
    this.ctx.log.info({ requestId: this.requestId, service: this.routed.route.name, version: pool.version }, `sending again, the call was refused unprocessed: ${why}`);
    this.kept.whenComplete((body) => {
      if (this.done || this.stream.destroyed) return;
      if (body === null) {
        this.attemptOver = false;
        this.attemptFailed('connect', `${why} (stream refused), and the request was too large to send again`);
        return;
      }
      this.send(pool, body, target);
    });
  }

  private attemptFailed(outcome: 'connect' | 'tls' | 'timeout', why: string): void {
    if (this.attemptOver || this.done) return;
    this.attemptOver = true;
    this.upstream?.close(NGHTTP2_CANCEL);
    const { pool, target } = this;
    if (target !== null) pool.report(target, false, this.ctx.now());
    const { route } = this.routed;
    this.ctx.log.warn({ requestId: this.requestId, service: route.name, version: pool.version, target: target?.origin, failure: outcome }, why);
    if (this.mayReplay()) {
      this.fallback(outcome, why, GRPC_UNAVAILABLE);
      return;
    }
    this.outcome = outcome;
    if (this.responded) {
      // Messages already reached the client: the call cannot be answered whole, so it is reset as the version's was.
      this.grpcStatus = GRPC_UNAVAILABLE;
      this.done = true;
      this.stream.close(NGHTTP2_INTERNAL_ERROR);
      return;
    }
    this.grpcStatus = outcome === 'timeout' ? GRPC_DEADLINE_EXCEEDED : GRPC_UNAVAILABLE;
    // Say why stable did not answer instead when it could have.
    const tooLarge = this.mayFallback && this.kept.tooLarge && !this.retried ? `; the request was too large to replay on ${this.routed.stable.version}` : '';
    this.endWithStatus(this.grpcStatus, `version ${pool.version} of service ${route.name} failed: ${why}${tooLarge} (request id ${this.requestId})`);
  }

  /** Whether the current attempt can still be replayed on stable: a candidate, nothing sent to the client, the request kept. */
  private mayReplay(): boolean {
    return this.mayFallback && !this.retried && this.pool !== this.routed.stable && !this.responded && !this.kept.tooLarge && !this.done;
  }

  /** The candidate's failure is counted, then the whole request goes to stable once the client sent it all. */
  private fallback(outcome: Outcome, why: string, code: number): void {
    this.retried = true;
    const from = this.pool.version;
    const { route, stable } = this.routed;
    this.ctx.log.warn({ requestId: this.requestId, service: route.name, version: from, failure: outcome }, `replaying on ${stable.version}: ${why}`);
    this.record(200, outcome, code);
    const failed = this.upstream;
    if (failed !== null) this.stream.unpipe(failed);
    // The unpipe paused the client's stream: the copy still needs the rest of it.
    this.stream.resume();
    this.kept.whenComplete((body) => {
      if (this.done || this.stream.destroyed) return;
      if (body === null) {
        this.outcome = outcome;
        this.grpcStatus = GRPC_UNAVAILABLE;
        this.endWithStatus(GRPC_UNAVAILABLE, `version ${from} of service ${route.name} failed: ${why}; the request was too large to replay on ${stable.version} (request id ${this.requestId})`);
        return;
      }
      this.ctx.onFallback(route.name, from, stable.version);
      this.send(stable, body);
    });
  }

  /** The gateway's own end of the call with `code`: trailers-only before any message, trailers after. */
  private endWithStatus(code: number, message: string): void {
    const status = { 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(message) };
    if (this.responded) {
      this.trailersOut = status;
      this.done = true;
      this.stream.end();
      this.drainClient();
      return;
    }
    this.respondEnd(status);
  }

  private respond(headers: IncomingHttpHeaders): void {
    if (this.stream.destroyed || this.stream.closed) return;
    this.responded = true;
    this.stream.respond({ ...copyMetadata(headers), ':status': 200, [VERSION_HEADER]: this.pool.version, [REQUEST_ID_HEADER]: this.requestId }, { waitForTrailers: true });
  }

  private respondEnd(metadata: OutgoingHttpHeaders): void {
    this.done = true;
    if (this.stream.destroyed || this.stream.closed) return;
    this.responded = true;
    this.stream.respond({ 'content-type': 'application/grpc', ...metadata, ':status': 200, [VERSION_HEADER]: this.pool.version, [REQUEST_ID_HEADER]: this.requestId }, { endStream: true });
    this.drainClient();
  }

  /**
   * The call is answered: what the client still sends is read and dropped.
   * Its stream was paused until a session was ready, and Node closes a
   * stream (and the call is counted) only once its readable side ended.
   */
  private drainClient(): void {
    this.stream.resume();
  }

  /** The gateway ends a call the client's `grpc-timeout` ran out on; the version is cancelled. */
  private deadlineExceeded(): void {
    if (this.done) return;
    this.attemptOver = true;
    this.upstream?.close(NGHTTP2_CANCEL);
    this.outcome = outcomeOf(GRPC_DEADLINE_EXCEEDED, this.routed.route.failingCodes);
    this.grpcStatus = GRPC_DEADLINE_EXCEEDED;
    const { route } = this.routed;
    this.endWithStatus(GRPC_DEADLINE_EXCEEDED, `version ${this.pool.version} of service ${route.name} did not finish within the call's deadline (${this.timeoutMs} ms; request id ${this.requestId})`);
  }

  /** The client's stream is gone: answered, or cancelled by the client, whose cancellation reaches the version. */
  private clientClosed(): void {
    clearTimeout(this.deadlineTimer);
    let status = 200;
    if (!this.done) {
      this.upstream?.close(NGHTTP2_CANCEL);
      const atDeadline = this.deadlineAt !== null && this.timeoutMs !== null && performance.now() >= this.deadlineAt - deadlineSlackMs(this.timeoutMs);
      if (atDeadline) {
        this.grpcStatus = GRPC_DEADLINE_EXCEEDED;
        this.outcome = outcomeOf(GRPC_DEADLINE_EXCEEDED, this.routed.route.failingCodes);
      } else {
        status = CLIENT_CLOSED;
        this.grpcStatus = GRPC_CANCELLED;
      }
    }
    const latencyMs = this.record(status, this.outcome, this.grpcStatus);
    this.shadow?.liveDone({ status, outcome: this.outcome, latencyMs });
    if (this.ctx.accessLog) {
      const { requestId, outcome } = this;
      const durationMs = Math.round(performance.now() - this.attemptStartedAt);
      this.ctx.log.info({ requestId, service: this.routed.route.name, version: this.pool.version, grpcStatus: grpcCodeName(this.grpcStatus ?? 0), outcome, durationMs }, 'call');
    }
  }

  /** Counts the current attempt; returns its latency. */
  private record(status: number, outcome: Outcome, grpcStatus: number | undefined): number {
    const now = performance.now();
    const latencyMs = now - this.attemptStartedAt;
    const firstMessageMs = (this.firstMessageAt ?? now) - this.attemptStartedAt;
    const { route, key } = this.routed;
    this.ctx.observer.observe({ service: route.name, version: this.pool.version, key, status, outcome, latencyMs, grpcStatus, firstMessageMs, staleRetry: this.refusedRetry });
    return latencyMs;
  }
}

/** A failed connection or stream in words: a TLS failure's cause, else the error's code. */
function describeFailure(err: NodeJS.ErrnoException): ['connect' | 'tls', string] {
  const tls = tlsFailure(err);
  return tls === null ? ['connect', err.code ?? err.message] : ['tls', tls];
}

/** Metadata as received, without pseudo-headers and the fields the gateway sets. */
function copyMetadata(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') || SET_DOWNSTREAM.has(name) || value === undefined) continue;
    out[name] = value;
  }
  return out;
}
