import { Counter, type Registry } from 'prom-client';
import type { ShadowDrop, ShadowObserver, ShadowRecord } from '../app/request-observer.js';

/**
 * The shadow's metrics, counted on the mirror path in plain numbers and turned
 * into prom-client metrics at scrape time (as request-tally.ts does for client
 * requests). Shadow copies are never counted in `switchyard_requests_total`:
 * that counts what clients got. The shadow's latency is in the analysis
 * windows (the console's charts and the verdict's figures).
 */

export const SHADOW_OUTCOMES = ['ok', 'status', 'timeout', 'connect', 'guardrail', 'tls'] as const;
export const SHADOW_DROPS: readonly ShadowDrop[] = ['concurrency', 'body'];

/** The counts of one (service, shadow version), as they cross a process boundary too. */
export interface ShadowCounts {
  readonly service: string;
  readonly version: string;
  /** By SHADOW_OUTCOMES index. */
  readonly outcomes: number[];
  /** By SHADOW_DROPS index. */
  readonly dropped: number[];
  /** Pairs whose predictions agreed, and disagreed. */
  readonly agree: number;
  readonly disagree: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export class ShadowTally implements ShadowObserver {
  private readonly counts = new Map<string, Mutable<ShadowCounts>>();

  observeShadow(record: ShadowRecord): void {
    const c = this.of(record.service, record.version);
    const outcome = SHADOW_OUTCOMES.indexOf(record.shadow.outcome as (typeof SHADOW_OUTCOMES)[number]);
    c.outcomes[outcome === -1 ? 1 : outcome]! += 1;
    if (record.pair === null) return;
    if (record.pair.disagree) c.disagree++;
    else c.agree++;
  }

  dropped(service: string, version: string, why: ShadowDrop): void {
    this.of(service, version).dropped[SHADOW_DROPS.indexOf(why)]! += 1;
  }

  /** Adds another tally's counts (a cluster worker's since its last batch). */
  add(other: ShadowCounts): void {
    const c = this.of(other.service, other.version);
    const sum = (into: number[], from: readonly number[]) => from.forEach((n, i) => (into[i] = (into[i] ?? 0) + n));
    sum(c.outcomes, other.outcomes);
    sum(c.dropped, other.dropped);
    c.agree += other.agree;
    c.disagree += other.disagree;
  }

  all(): ShadowCounts[] {
    return [...this.counts.values()];
  }

  private of(service: string, version: string): Mutable<ShadowCounts> {
    const id = `${service}|${version}`;
    let c = this.counts.get(id);
    if (c === undefined) {
      c = {
        service,
        version,
        outcomes: SHADOW_OUTCOMES.map(() => 0),
        dropped: SHADOW_DROPS.map(() => 0),
        agree: 0,
        disagree: 0,
      };
      this.counts.set(id, c);
    }
    return c;
  }
}

export function registerShadowMetrics(registry: Registry, tally: ShadowTally): void {
  new Counter({
    name: 'switchyard_shadow_requests_total',
    help: 'Copies of live requests answered (or not) by a shadow version, by outcome: ok, status (5xx), timeout, connect, guardrail (a 2xx answer outside the prediction guardrail), tls (the handshake with an https:// shadow failed). Never seen by clients.',
    labelNames: ['service', 'version', 'outcome'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const c of tally.all()) SHADOW_OUTCOMES.forEach((outcome, i) => this.inc({ service: c.service, version: c.version, outcome }, c.outcomes[i]!));
    },
  });
  new Counter({
    name: 'switchyard_shadow_dropped_total',
    help: 'Copies not sent to a shadow: concurrency (the bound of copies in flight was reached), body (the request body was over the cap).',
    labelNames: ['service', 'version', 'reason'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const c of tally.all()) SHADOW_DROPS.forEach((reason, i) => this.inc({ service: c.service, version: c.version, reason }, c.dropped[i]!));
    },
  });
  new Counter({
    name: 'switchyard_shadow_comparisons_total',
    help: "Mirrored pairs whose predictions were compared, by result: agree or disagree (another label, or a score further than the tolerance from stable's).",
    labelNames: ['service', 'version', 'result'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const c of tally.all()) {
        this.inc({ service: c.service, version: c.version, result: 'agree' }, c.agree);
        this.inc({ service: c.service, version: c.version, result: 'disagree' }, c.disagree);
      }
    },
  });
}
