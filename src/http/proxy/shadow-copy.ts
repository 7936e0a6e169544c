import type { IncomingMessage } from 'node:http';
import type { Outcome, ShadowObserver, ShadowSide } from '../../app/request-observer.js';
import { violation } from '../../core/guardrail.js';
import { comparePair, type PairResult } from '../../core/shadow/comparison.js';
import { readPrediction } from '../../core/shadow/prediction.js';
import { upstreamHeaders } from './headers.js';
import { MirroredCall } from './mirrored-call.js';
import type { Routed } from './resolve.js';
import { tlsFailure } from './tls-errors.js';
import type { VersionPool } from './upstream-pool.js';

/** Sent with every copy, so a model server can tell a shadow request from a live one (and skip side effects). */
export const SHADOW_HEADER = 'x-switchyard-shadow';

type ShadowConfig = Routed['route']['config']['shadow'];
type Guardrail = NonNullable<Routed['route']['config']['guardrail']>;
type Finish = (outcome: Outcome, status: number, answer: Buffer | null) => void;

/**
 * A copy of one live request for the service's shadow version. The client's
 * request goes on exactly as without it: the body is kept aside while it
 * streams (up to `shadow.maxBodyBytes`), the copy leaves once the client sent
 * it all, alongside stable's work, and its answer is read with its own timeout
 * and never reaches the client. When both answers are in, the pair is handed
 * to the observer; with a prediction field configured, stable's answer is kept
 * as it streams to the client (up to the same cap) and the two predictions are
 * compared. A 2xx answer of the shadow also passes the service's prediction
 * guardrail, as a live answer does: a violation makes the shadow's outcome
 * `guardrail`, a failure of the shadow in its windows and metrics (the
 * guardrail's action is for clients, and no client sees this answer). A copy
 * over the concurrency bound is dropped and counted, never queued.
 */
export class ShadowCopy extends MirroredCall {
  private readonly config: ShadowConfig;
  private baseBody: Buffer[] | null = null;
  private shadowBody: Buffer | null = null;

  constructor(
    private readonly req: IncomingMessage,
    routed: Routed,
    pool: VersionPool,
    private readonly requestId: string,
    observer: ShadowObserver,
    private readonly now: () => number,
  ) {
    super(req, routed, pool, observer);
    this.config = routed.route.config.shadow;
  }

  /** Stable's answer as it streams to the client: kept (up to the cap) when predictions are compared. */
  teeAnswer(upRes: IncomingMessage, status: number): void {
    if (this.config.prediction === null || status < 200 || status >= 300) return;
    const chunks: Buffer[] = [];
    let size = 0;
    this.baseBody = chunks;
    upRes.on('data', (chunk: Buffer) => {
      if (this.baseBody === null) return;
      size += chunk.length;
      if (size > this.config.maxBodyBytes) this.baseBody = null;
      else chunks.push(chunk);
    });
  }

  protected send(body: Buffer, answered: (side: ShadowSide) => void): void {
    const startedAt = performance.now();
    const target = this.pool.pick(this.now());
    const headers = upstreamHeaders(this.req, target, this.pool.version, this.requestId);
    headers.push(SHADOW_HEADER, '1');
    // A chunked request loses its framing with the hop-by-hop headers; the copy is sent whole.
    if (this.req.headers['content-length'] === undefined) headers.push('content-length', String(body.length));
    const finish: Finish = (outcome, status, answer) => {
      clearTimeout(timer);
      // The body before the side: the pair is compared as soon as the side is in.
      this.shadowBody ??= answer;
      answered({ status, outcome, latencyMs: performance.now() - startedAt });
    };
    const upstream = target.request(this.req.method, this.req.url, headers, false);
    const timer = setTimeout(() => {
      finish('timeout', 504, null);
      upstream.destroy();
    }, this.config.timeoutMs);
    upstream.on('response', (res) => this.read(res, finish));
    upstream.on('error', (err: NodeJS.ErrnoException) => finish(tlsFailure(err) === null ? 'connect' : 'tls', 502, null));
    upstream.end(body);
  }

  /**
   * Reads the shadow's answer to its end. A 2xx body is kept while it is within
   * the larger of the caps in use, `shadow.maxBodyBytes` to compare its
   * prediction and `guardrail.maxBodyBytes` to judge it, and dropped past that,
   * so a copy never holds more. A body over a cap is not used for that purpose:
   * an answer too large to judge is not judged, as on the live path.
   */
  private read(res: IncomingMessage, finish: Finish): void {
    const status = res.statusCode ?? 502;
    const success = status >= 200 && status < 300;
    const guard = success ? this.routed.route.config.guardrail : undefined;
    const compareCap = success && this.config.prediction !== null ? this.config.maxBodyBytes : -1;
    const keepCap = Math.max(compareCap, guard?.maxBodyBytes ?? -1);
    let chunks: Buffer[] | null = keepCap >= 0 ? [] : null;
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > keepCap) chunks = null;
      else chunks?.push(chunk);
    });
    res.on('end', () => {
      const body = chunks === null ? null : Buffer.concat(chunks);
      const outcome: Outcome = status >= 500 ? 'status' : breaksGuardrail(body, size, guard) ? 'guardrail' : 'ok';
      finish(outcome, status, body !== null && size <= compareCap ? body : null);
    });
    res.on('error', () => finish('connect', 502, null));
  }

  protected override pair(): PairResult | null {
    const rule = this.config.prediction;
    if (rule === null || this.baseBody === null || this.shadowBody === null) return null;
    const stable = readPrediction(Buffer.concat(this.baseBody).toString('utf8'), rule);
    const shadow = readPrediction(this.shadowBody.toString('utf8'), rule);
    if (stable === null || shadow === null) return null;
    return comparePair(stable, shadow, rule.kind, this.config.drift.scoreTolerance);
  }
}

/** Whether a kept answer of `size` bytes breaks the guardrail; one over the guardrail's cap is not judged. */
function breaksGuardrail(body: Buffer | null, size: number, guard: Guardrail | undefined): boolean {
  if (guard === undefined || body === null || size > guard.maxBodyBytes) return false;
  return violation(body.toString('utf8'), guard.rule) !== null;
}
