import { constants, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { Outcome, ShadowObserver, ShadowSide } from '../../app/request-observer.js';
import { formatGrpcTimeout, GRPC_INTERNAL, GRPC_OK, grpcCodeOfHttpStatus, readGrpcStatus } from '../../core/grpc-status.js';
import type { GuardrailRule } from '../../core/guardrail.js';
import { comparePair, type PairResult } from '../../core/shadow/comparison.js';
import { readPrediction, type PredictionRule } from '../../core/shadow/prediction.js';
import type { AnswerDecoder } from '../../grpc-proto/answer-decoder.js';
import { sessionCause } from '../proxy/h2-connection.js';
import { MirroredCall } from '../proxy/mirrored-call.js';
import type { Routed } from '../proxy/resolve.js';
import { SHADOW_HEADER } from '../proxy/shadow-copy.js';
import { tlsFailure } from '../proxy/tls-errors.js';
import type { Target, VersionPool } from '../proxy/upstream-pool.js';
import { outcomeOf } from './call-outcome.js';
import { grpcViolation } from './held-answer.js';

const { NGHTTP2_CANCEL } = constants;

/**
 * A copy of one gRPC call for the service's shadow version (see
 * MirroredCall): the request's messages, which a unary call's fit in
 * `shadow.maxBodyBytes`, go out once the client sent them all, with
 * `x-switchyard-shadow: 1` and the shadow's own timeout as their deadline,
 * and the answer is read to its `grpc-status`. With `shadow.prediction` and
 * the service's .proto (`grpc.proto`), the first message of both answers to a
 * unary method is decoded and their predictions compared, as for JSON answers.
 */
export class GrpcShadowCopy extends MirroredCall {
  /** With a prediction and the service's .proto: stable's answer and the shadow's, kept (up to the cap) to compare. */
  private readonly compare: { readonly answers: AnswerDecoder; readonly rule: PredictionRule } | null;
  /** With a guardrail and the service's .proto: the shadow's answer is judged by it. */
  private readonly guard: { readonly answers: AnswerDecoder; readonly rule: GuardrailRule; readonly maxBodyBytes: number } | null;
  private readonly stableAnswer = new KeptAnswer();
  private readonly shadowAnswer = new KeptAnswer();

  constructor(
    stream: ServerHttp2Stream,
    routed: Routed,
    pool: VersionPool,
    /** The headers a call to `target` carries upstream, as the live call's. */
    private readonly headersFor: (target: Target, version: string) => OutgoingHttpHeaders,
    observer: ShadowObserver,
    private readonly now: () => number,
  ) {
    super(stream, routed, pool, observer);
    const { answers } = routed.route;
    const { prediction } = routed.route.config.shadow;
    const unary = answers !== null && answers.unaryAnswer(routed.path);
    this.compare = prediction !== null && unary ? { answers, rule: prediction } : null;
    const { guardrail } = routed.route.config;
    this.guard = guardrail !== undefined && unary ? { answers, rule: guardrail.rule, maxBodyBytes: guardrail.maxBodyBytes } : null;
  }

  /**
   * Whether the shadow's kept answer breaks the service's guardrail, as a live
   * answer would: a failure of the shadow (no client sees it, so the
   * guardrail's action does not apply). One too large to keep is not judged.
   */
  private breaksGuardrail(): boolean {
    const guard = this.guard;
    const body = this.shadowAnswer.body;
    if (guard === null || body === null) return false;
    return grpcViolation(guard.answers, this.routed.path, body, this.shadowAnswer.encoding, guard.rule) !== null;
  }

  /** Stable's answer as it streams to the client, kept when predictions are compared. */
  teeAnswer(chunk: Buffer, encoding: string | string[] | undefined): void {
    if (this.compare !== null) this.stableAnswer.add(chunk, encoding, this.routed.route.config.shadow.maxBodyBytes);
  }

  protected override pair(): PairResult | null {
    const compare = this.compare;
    if (compare === null) return null;
    const read = (kept: KeptAnswer) => {
      const json = kept.body === null ? null : compare.answers.firstMessageJson(this.routed.path, kept.body, kept.encoding);
      return json === null ? null : readPrediction(json, compare.rule);
    };
    const [stable, shadow] = [read(this.stableAnswer), read(this.shadowAnswer)];
    if (stable === null || shadow === null) return null;
    return comparePair(stable, shadow, compare.rule.kind, this.routed.route.config.shadow.drift.scoreTolerance);
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
    const judge = (t: IncomingHttpHeaders) => {
      const code = readGrpcStatus(t['grpc-status']);
      finish(code === GRPC_OK && this.breaksGuardrail() ? 'guardrail' : outcomeOf(code, this.routed.route.failingCodes));
    };
    upstream.on('response', (h) => {
      if (h[':status'] !== 200) finish(outcomeOf(grpcCodeOfHttpStatus(h[':status'] ?? 0), this.routed.route.failingCodes));
      else if (h['grpc-status'] !== undefined) judge(h);
      else if (this.compare !== null || this.guard !== null) {
        const cap = Math.max(this.compare === null ? 0 : this.routed.route.config.shadow.maxBodyBytes, this.guard?.maxBodyBytes ?? 0);
        upstream.on('data', (chunk: Buffer) => this.shadowAnswer.add(chunk, h['grpc-encoding'], cap));
      }
    });
    upstream.on('trailers', (t) => (trailers = t));
    upstream.on('end', () => (trailers === null ? finish(outcomeOf(GRPC_INTERNAL, this.routed.route.failingCodes)) : judge(trailers)));
    upstream.on('error', (err: NodeJS.ErrnoException) => finish(tlsFailure(sessionCause(err)) === null ? 'connect' : 'tls'));
    upstream.on('close', () => finish('connect'));
    // The answer's messages are not needed: read and dropped, so flow control never holds the shadow back.
    upstream.resume();
    upstream.end(body);
  }
}

/** An answer's bytes kept up to a cap (null past it), with its grpc-encoding. */
class KeptAnswer {
  private chunks: Buffer[] | null = [];
  private size = 0;
  encoding: string | undefined;

  add(chunk: Buffer, encoding: string | string[] | undefined, capBytes: number): void {
    if (this.chunks === null) return;
    this.encoding = typeof encoding === 'string' ? encoding : undefined;
    this.size += chunk.length;
    if (this.size > capBytes) this.chunks = null;
    else this.chunks.push(chunk);
  }

  get body(): Buffer | null {
    return this.chunks === null || this.chunks.length === 0 ? null : Buffer.concat(this.chunks);
  }
}
