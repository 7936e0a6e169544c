import type { IncomingMessage } from 'node:http';
import type { Outcome, ShadowObserver, ShadowSide } from '../../app/request-observer.js';
import { violation } from '../../core/guardrail.js';
import { comparePair, type PairResult } from '../../core/shadow/comparison.js';
import { readPrediction } from '../../core/shadow/prediction.js';
import { upstreamHeaders } from './headers.js';
import { ReplayBody } from './replay-body.js';
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
export class ShadowCopy {
  private readonly config: ShadowConfig;
  private base: ShadowSide | null = null;
  private baseBody: Buffer[] | null = null;
  private shadow: ShadowSide | null = null;
  private shadowBody: Buffer | null = null;
  /** No record will be made: the copy was dropped or the client went away before sending its body. */
  private abandoned = false;

  constructor(
    private readonly req: IncomingMessage,
    private readonly routed: Routed,
    private readonly pool: VersionPool,
    private readonly requestId: string,
    private readonly observer: ShadowObserver,
    private readonly now: () => number,
  ) {
    this.config = routed.route.config.shadow;
    const kept = new ReplayBody(req, this.config.maxBodyBytes);
    kept.whenComplete((body) => {
      if (body !== null) this.send(body);
      else if (kept.tooLarge) this.drop('body');
      else this.abandoned = true;
    });
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

  /** The client's request ended (answered, failed or abandoned by the client). */
  liveDone(side: ShadowSide): void {
    this.base = side;
    this.settle();
  }

  private drop(why: 'concurrency' | 'body'): void {
    this.abandoned = true;
    this.observer.dropped(this.routed.route.name, this.pool.version, why);
  }

  private send(body: Buffer): void {
    const gate = this.routed.route.shadowGate;
    if (gate.inFlight >= this.config.maxConcurrent) {
      this.drop('concurrency');
      return;
    }
    gate.inFlight++;
    const startedAt = performance.now();
    const target = this.pool.pick(this.now());
    const headers = upstreamHeaders(this.req, target, this.pool.version, this.requestId);
    headers.push(SHADOW_HEADER, '1');
    // A chunked request loses its framing with the hop-by-hop headers; the copy is sent whole.
    if (this.req.headers['content-length'] === undefined) headers.push('content-length', String(body.length));
    let settled = false;
    const finish: Finish = (outcome, status, answer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      gate.inFlight--;
      this.shadow = { status, outcome, latencyMs: performance.now() - startedAt };
      this.shadowBody = answer;
      this.settle();
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

  private settle(): void {
    if (this.abandoned || this.base === null || this.shadow === null) return;
    const { route, key } = this.routed;
    this.observer.observeShadow({ service: route.name, version: this.pool.version, key, shadow: this.shadow, base: this.base, pair: this.pair() });
    this.abandoned = true;
  }

  private pair(): PairResult | null {
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
