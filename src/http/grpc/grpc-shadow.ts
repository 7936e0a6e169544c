import { constants, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { Outcome, ShadowObserver, ShadowSide } from '../../app/request-observer.js';
import { formatGrpcTimeout, GRPC_INTERNAL, grpcCodeOfHttpStatus, readGrpcStatus } from '../../core/grpc-status.js';
import { sessionCause } from '../proxy/h2-connection.js';
import { MirroredCall } from '../proxy/mirrored-call.js';
import type { Routed } from '../proxy/resolve.js';
import { SHADOW_HEADER } from '../proxy/shadow-copy.js';
import { tlsFailure } from '../proxy/tls-errors.js';
import type { Target, VersionPool } from '../proxy/upstream-pool.js';
import { outcomeOf } from './call-outcome.js';

const { NGHTTP2_CANCEL } = constants;

/**
 * A copy of one gRPC call for the service's shadow version (see
 * MirroredCall): the request's messages, which a unary call's fit in
 * `shadow.maxBodyBytes`, go out once the client sent them all, with
 * `x-switchyard-shadow: 1` and the shadow's own timeout as their deadline,
 * and the answer is read to its `grpc-status` and dropped. Protobuf answers
 * are not decoded, so no predictions are compared.
 */
export class GrpcShadowCopy extends MirroredCall {
  constructor(
    stream: ServerHttp2Stream,
    routed: Routed,
    pool: VersionPool,
    /** The headers a call to `target` carries upstream, as the live call's. */
    private readonly headersFor: (target: Target, version: string) => OutgoingHttpHeaders,
    private readonly failing: ReadonlySet<number>,
    observer: ShadowObserver,
    private readonly now: () => number,
  ) {
    super(stream, routed, pool, observer);
  }

  protected send(body: Buffer, answered: (side: ShadowSide) => void): void {
    const { config } = this.routed.route;
    const startedAt = performance.now();
    const finish = (outcome: Outcome) => {
      clearTimeout(timer);
      // A gRPC answer is HTTP 200 whatever its status; the outcome says whether it failed.
      answered({ status: outcome === 'ok' || outcome === 'status' ? 200 : 502, outcome, latencyMs: performance.now() - startedAt });
    };
    const target = this.pool.pick(this.now());
    let upstream: ClientHttp2Stream | undefined;
    const timer = setTimeout(() => {
      upstream?.close(NGHTTP2_CANCEL);
      finish('timeout');
    }, config.shadow.timeoutMs);
    target.h2Session(config.timeouts.connect, (session, failure) => {
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
    // Judged as the live call is: the same codes fail, a non-gRPC answer by gRPC's table.
    const judge = (t: IncomingHttpHeaders) => finish(outcomeOf(readGrpcStatus(t['grpc-status']), this.failing));
    upstream.on('response', (h) => {
      if (h[':status'] !== 200) finish(outcomeOf(grpcCodeOfHttpStatus(h[':status'] ?? 0), this.failing));
      else if (h['grpc-status'] !== undefined) judge(h);
    });
    upstream.on('trailers', (t) => (trailers = t));
    upstream.on('end', () => (trailers === null ? finish(outcomeOf(GRPC_INTERNAL, this.failing)) : judge(trailers)));
    upstream.on('error', (err: NodeJS.ErrnoException) => finish(tlsFailure(sessionCause(err)) === null ? 'connect' : 'tls'));
    upstream.on('close', () => finish('connect'));
    // The answer's messages are not needed: read and dropped, so flow control never holds the shadow back.
    upstream.resume();
    upstream.end(body);
  }
}
