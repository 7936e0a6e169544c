import type { Readable } from 'node:stream';
import type { ShadowObserver, ShadowSide } from '../../app/request-observer.js';
import type { PairResult } from '../../core/shadow/comparison.js';
import { ReplayBody } from './replay-body.js';
import type { Routed } from './resolve.js';
import type { VersionPool } from './upstream-pool.js';

/**
 * What a copy of a live request for the service's shadow version does
 * whatever protocol carries it (ShadowCopy for HTTP, GrpcShadowCopy for
 * gRPC): the request's body is kept aside while it streams to stable (up to
 * `shadow.maxBodyBytes`), the copy leaves once the client sent it all and a
 * place is free under `shadow.maxConcurrent` (else it is dropped and counted,
 * never queued), and when both the shadow's answer and stable's are in, the
 * pair goes to the observer once.
 */
export abstract class MirroredCall {
  private base: ShadowSide | null = null;
  private shadow: ShadowSide | null = null;
  /** No record will be made: the copy was dropped or the client went away before sending its body. */
  private abandoned = false;

  constructor(
    body: Readable,
    protected readonly routed: Routed,
    protected readonly pool: VersionPool,
    private readonly observer: ShadowObserver,
  ) {
    const kept = new ReplayBody(body, routed.route.config.shadow.maxBodyBytes);
    kept.whenComplete((whole) => {
      if (whole === null) {
        if (kept.tooLarge) this.drop('body');
        else this.abandoned = true;
        return;
      }
      const gate = routed.route.shadowGate;
      if (gate.inFlight >= routed.route.config.shadow.maxConcurrent) {
        this.drop('concurrency');
        return;
      }
      gate.inFlight++;
      let answered = false;
      this.send(whole, (side) => {
        if (answered) return;
        answered = true;
        gate.inFlight--;
        this.shadow = side;
        this.settle();
      });
    });
  }

  /** The client's request ended (answered, failed or abandoned by the client). */
  liveDone(side: ShadowSide): void {
    this.base = side;
    this.settle();
  }

  /** Sends the copy with the whole `body`; calls `answered` once with the shadow's side of the pair. */
  protected abstract send(body: Buffer, answered: (side: ShadowSide) => void): void;

  /** The two answers' predictions compared, when they can be. */
  protected pair(): PairResult | null {
    return null;
  }

  private drop(why: 'concurrency' | 'body'): void {
    this.abandoned = true;
    this.observer.dropped(this.routed.route.name, this.pool.version, why);
  }

  private settle(): void {
    if (this.abandoned || this.base === null || this.shadow === null) return;
    const { route, key } = this.routed;
    this.observer.observeShadow({ service: route.name, version: this.pool.version, key, shadow: this.shadow, base: this.base, pair: this.pair() });
    this.abandoned = true;
  }
}
