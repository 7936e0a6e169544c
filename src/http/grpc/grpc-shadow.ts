import { constants, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { Outcome, ShadowObserver, ShadowSide } from '../../app/request-observer.js';
import { formatGrpcTimeout, readGrpcStatus } from '../../core/grpc-status.js';
import { sessionCause } from '../proxy/h2-connection.js';
import { ReplayBody } from '../proxy/replay-body.js';
import type { Routed } from '../proxy/resolve.js';
import { SHADOW_HEADER } from '../proxy/shadow-copy.js';
import { tlsFailure } from '../proxy/tls-errors.js';
import type { Target, VersionPool } from '../proxy/upstream-pool.js';

const { NGHTTP2_CANCEL } = constants;

/**
 * A copy of one gRPC call for the service's shadow version, the way
 * ShadowCopy mirrors an HTTP request: the request's messages are kept aside
 * as they stream (up to `shadow.maxBodyBytes`, which a unary call fits), the
 * copy leaves once the client sent them all, with `x-switchyard-shadow: 1`
 * and the shadow's own timeout as its deadline, and its answer is read to its
 * `grpc-status` and dropped. The pair (shadow's outcome and latency, stable's)
 * goes to the observer; protobuf answers are not decoded, so no predictions
 * are compared. Over the concurrency bound a copy is dropped and counted.
 */
export class GrpcShadowCopy {
  private base: ShadowSide | null = null;
  private shadow: ShadowSide | null = null;
  /** No record will be made: the copy was dropped or the client went away before its request was complete. */
  private abandoned = false;

  constructor(
    stream: ServerHttp2Stream,
    private readonly routed: Routed,
    private readonly pool: VersionPool,
    /** The headers a call to `target` carries upstream, as the live call's. */
    private readonly headersFor: (target: Target, version: string) => OutgoingHttpHeaders,
    private readonly failing: ReadonlySet<number>,
    private readonly observer: ShadowObserver,
    private readonly now: () => number,
  ) {
    const kept = new ReplayBody(stream, routed.route.config.shadow.maxBodyBytes);
    kept.whenComplete((body) => {
      if (body !== null) this.send(body);
      else if (kept.tooLarge) this.drop('body');
      else this.abandoned = true;
    });
  }

  /** The client's call ended (answered, failed or cancelled). */
  liveDone(side: ShadowSide): void {
    this.base = side;
    this.settle();
  }

  private drop(why: 'concurrency' | 'body'): void {
    this.abandoned = true;
    this.observer.dropped(this.routed.route.name, this.pool.version, why);
  }

  private send(body: Buffer): void {
    const { shadowGate: gate, config } = this.routed.route;
    if (gate.inFlight >= config.shadow.maxConcurrent) {
      this.drop('concurrency');
      return;
    }
    gate.inFlight++;
    const startedAt = performance.now();
    let settled = false;
    const finish = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      gate.inFlight--;
      // A gRPC answer is HTTP 200 whatever its status; the outcome says whether it failed.
      this.shadow = { status: outcome === 'ok' || outcome === 'status' ? 200 : 502, outcome, latencyMs: performance.now() - startedAt };
      this.settle();
    };
    const target = this.pool.pick(this.now());
    let upstream: ClientHttp2Stream | undefined;
    const timer = setTimeout(() => {
      upstream?.close(NGHTTP2_CANCEL);
      finish('timeout');
    }, config.shadow.timeoutMs);
    target.h2Session(config.timeouts.connect, (session, failure) => {
      if (settled) return;
      if (session === null) {
        finish(failure !== null && !failure.timedOut && tlsFailure(failure.error) !== null ? 'tls' : failure?.timedOut === true ? 'timeout' : 'connect');
        return;
      }
      const headers = { ...this.headersFor(target, this.pool.version), [SHADOW_HEADER]: '1', 'grpc-timeout': formatGrpcTimeout(config.shadow.timeoutMs) };
      try {
        upstream = session.request(headers);
      } catch {
        finish('connect');
        return;
      }
      this.read(upstream, finish, body);
    });
  }

  /** Sends the copy's request and reads the answer to its grpc-status. */
  private read(upstream: ClientHttp2Stream, finish: (outcome: Outcome) => void, body: Buffer): void {
    let trailers: IncomingHttpHeaders | null = null;
    const judge = (t: IncomingHttpHeaders) => finish(this.failing.has(readGrpcStatus(t['grpc-status'])) ? 'status' : 'ok');
    upstream.on('response', (h) => {
      if (h[':status'] !== 200) finish('status');
      else if (h['grpc-status'] !== undefined) judge(h);
    });
    upstream.on('trailers', (t) => (trailers = t));
    upstream.on('end', () => (trailers === null ? finish('status') : judge(trailers)));
    upstream.on('error', (err: NodeJS.ErrnoException) => finish(tlsFailure(sessionCause(err)) === null ? 'connect' : 'tls'));
    upstream.on('close', () => finish('connect'));
    // The answer's messages are not needed: read and dropped, so flow control never holds the shadow back.
    upstream.resume();
    upstream.end(body);
  }

  private settle(): void {
    if (this.abandoned || this.base === null || this.shadow === null) return;
    const { route, key } = this.routed;
    this.observer.observeShadow({ service: route.name, version: this.pool.version, key, shadow: this.shadow, base: this.base, pair: null });
    this.abandoned = true;
  }
}
