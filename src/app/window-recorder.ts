import { bucketStart, GATEWAY_SATURATED, latencyKey, mergeArms, recordableLatencyMs, type WindowSlice } from '../core/analysis/window.js';
import { SwitchyardError } from '../core/errors.js';
import { comparisonArm } from '../core/shadow/comparison.js';
import { shadowBaseSeries, shadowCompareSeries, shadowSeries } from '../core/shadow/series.js';
import type { Clock } from './clock.js';
import { failedVersion, type RequestObserver, type RequestRecord, type ShadowRecord } from './request-observer.js';

export interface WindowRecorderOptions {
  /** Width of the analysis buckets; the analysis loop reads with the same width. */
  readonly bucketMs: number;
  readonly clock: Clock;
  /** Whether this process was saturated since the last drain (loopSaturation); its windows of that drain are marked so. */
  readonly saturated?: () => boolean;
}

/** What one version of one service has counted in its current bucket since the last drain. */
interface Accumulator {
  readonly bucketMs: number;
  requests: number;
  errors: number;
  logSum: number;
  logSqSum: number;
  /** DDSketch key -> count. */
  latency: Map<number, number>;
  /**
   * Every sticky key that failed in this bucket, kept across drains until the
   * bucket closes, so that a key failing again after a drain is not counted twice.
   */
  readonly failing: Set<string>;
  /** How many of `failing` earlier drains have already handed over. */
  failingDrained: number;
}

/**
 * The request path's side of the analysis windows: per service, version and
 * bucket, local counters only (docs/analysis.md, The statistics). A
 * flusher drains them into the store.
 *
 * The distinct failing-key count is exact for this replica and bucket, because
 * the keys of the open bucket survive a drain. Replicas cannot see each other's
 * keys, so the store's sum over replicas is an upper bound on the distinct
 * failing keys of a bucket (one user whose requests reach two replicas counts twice).
 */
export class WindowRecorder implements RequestObserver {
  private readonly bucketMs: number;
  private readonly clock: Clock;
  private readonly saturated: (() => boolean) | undefined;
  /** Service -> version -> the accumulator of the bucket that version last saw traffic in. */
  private readonly open = new Map<string, Map<string, Accumulator>>();
  /** Buckets that ended between two drains, waiting for the next drain. */
  private closed: WindowSlice[] = [];
  /** Shadow comparisons since the last drain, by `service|series|bucket`. */
  private comparisons = new Map<string, WindowSlice>();

  constructor(options: WindowRecorderOptions) {
    if (!Number.isInteger(options.bucketMs) || options.bucketMs <= 0) {
      // bucketStart(t, 0) is NaN: every request would land in one bucket that no read finds.
      throw new SwitchyardError('SY_ERR_CONFIG', `analysis bucket width must be a positive whole number of ms, got ${options.bucketMs}`);
    }
    this.bucketMs = options.bucketMs;
    this.clock = options.clock;
    this.saturated = options.saturated;
  }

  /** The hot path: a few Map lookups and additions; it allocates only when a bucket, version or failing key is new. */
  observe(record: RequestRecord): void {
    const bucketMs = bucketStart(this.clock.now(), this.bucketMs);
    let versions = this.open.get(record.service);
    if (versions === undefined) {
      versions = new Map();
      this.open.set(record.service, versions);
    }
    let acc = versions.get(record.version);
    if (acc === undefined || acc.bucketMs !== bucketMs) {
      if (acc !== undefined && acc.requests > 0) this.closed.push(this.takeSlice(record.service, record.version, acc));
      acc = newAccumulator(bucketMs);
      versions.set(record.version, acc);
    }
    // A gRPC stream may last minutes: its first message is what a slower model delays.
    const ms = recordableLatencyMs(record.firstMessageMs ?? record.latencyMs);
    const ln = Math.log(ms);
    const key = latencyKey(ms);
    acc.requests++;
    acc.logSum += ln;
    acc.logSqSum += ln * ln;
    acc.latency.set(key, (acc.latency.get(key) ?? 0) + 1);
    if (failedVersion(record.outcome)) {
      acc.errors++;
      acc.failing.add(record.key);
    }
  }

  /**
   * A mirrored pair: the shadow's answer and stable's answer to the same
   * request as two series the detector compares like stable and a candidate,
   * and the comparison of their predictions (docs/analysis.md, The statistics).
   */
  observeShadow(record: ShadowRecord): void {
    const { service, version, key } = record;
    this.observe({ service, version: shadowSeries(version), key, ...record.shadow });
    this.observe({ service, version: shadowBaseSeries(version), key, ...record.base });
    if (record.pair === null) return;
    const bucketMs = bucketStart(this.clock.now(), this.bucketMs);
    const series = shadowCompareSeries(version);
    const id = `${service}|${series}|${bucketMs}`;
    const arm = comparisonArm(record.pair);
    const held = this.comparisons.get(id);
    this.comparisons.set(id, { service, version: series, bucketMs, arm: held === undefined ? arm : mergeArms(held.arm, arm) });
  }

  /**
   * Hands over everything counted since the last drain, the still open buckets
   * included: the store adds the parts up. Versions whose bucket has ended are
   * forgotten, so a version that stops receiving traffic holds no memory.
   */
  drain(): WindowSlice[] {
    const current = bucketStart(this.clock.now(), this.bucketMs);
    const saturated = this.saturated?.() ?? false;
    const out = this.closed;
    this.closed = [];
    for (const [service, versions] of this.open) {
      for (const [version, acc] of versions) {
        if (acc.requests > 0) out.push(this.takeSlice(service, version, acc));
        // An ended bucket gets no more traffic: the next request of this version starts a new one.
        if (acc.bucketMs !== current) versions.delete(version);
      }
      if (versions.size === 0) this.open.delete(service);
    }
    // Comparison windows hold predictions, not latencies: they are never marked.
    const marked: WindowSlice[] = saturated ? out.map((s) => ({ ...s, arm: { ...s.arm, counters: { ...s.arm.counters, [GATEWAY_SATURATED]: 1 } } })) : out;
    marked.push(...this.comparisons.values());
    this.comparisons = new Map();
    return marked;
  }

  /** The counts since the last drain as a slice; the accumulator starts afresh but keeps its failing keys. */
  private takeSlice(service: string, version: string, acc: Accumulator): WindowSlice {
    const slice: WindowSlice = {
      service,
      version,
      bucketMs: acc.bucketMs,
      arm: {
        requests: acc.requests,
        errors: acc.errors,
        failingKeys: acc.failing.size - acc.failingDrained,
        logSum: acc.logSum,
        logSqSum: acc.logSqSum,
        latency: Object.fromEntries(acc.latency),
      },
    };
    acc.requests = 0;
    acc.errors = 0;
    acc.logSum = 0;
    acc.logSqSum = 0;
    acc.latency = new Map();
    acc.failingDrained = acc.failing.size;
    return slice;
  }
}

function newAccumulator(bucketMs: number): Accumulator {
  return { bucketMs, requests: 0, errors: 0, logSum: 0, logSqSum: 0, latency: new Map(), failing: new Set(), failingDrained: 0 };
}
