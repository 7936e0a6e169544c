import { bucketStart, EMPTY_ARM, mergeArms, sumArms, type ArmWindow, type WindowSlice } from '../core/analysis/window.js';
import type { AnalysisCheckpoint } from '../core/analysis/detector.js';
import type { Store } from './store.js';

/** The series of one judgement: a baseline arm, the arm judged against it, and optionally a series read beside them. */
export interface JudgedSeries {
  /** Whose pre-start windows give the latency thresholds (stable). */
  readonly baseline: string;
  readonly stable: string;
  readonly candidate: string;
  readonly extra?: string;
}

export interface JudgedBucket {
  readonly bucketMs: number;
  stable: ArmWindow;
  candidate: ArmWindow;
  extra: ArmWindow;
  /** The candidate's weight while the bucket was recorded, where the loop knows it (see SettledWindows.load). */
  weightBp?: number;
}

/** The candidate's weight and since when, as the loop read it from the rollout state. */
export interface KnownWeight {
  readonly weightBp: number;
  readonly sinceMs: number;
}

/** Complete buckets of one judgement read so far; buckets never change once settled. */
export interface JudgedWindows {
  readonly key: string;
  readonly baseline: ArmWindow;
  readonly buckets: JudgedBucket[];
  readUpToMs: number;
  /** The weight of the last round, to label buckets recorded before a change read this round. */
  weight: KnownWeight | null;
  inconclusiveInARow: number;
  /** The detector's evidence over the buckets judged so far, so a round folds only new buckets. */
  checkpoint: AnalysisCheckpoint | null;
}

export interface SettledWindowsOptions {
  readonly store: Store;
  readonly bucketMs: number;
  /** How long after a bucket closes until every replica has flushed it. */
  readonly settleMs: number;
  /** Stable's traffic before the start, for the latency thresholds. */
  readonly baselineMs: number;
}

/**
 * The analysis loop's reading of the windows, per service and judgement (a
 * rollout, or a shadow): the baseline once, then only the buckets that settled
 * since the last round. A new key (another candidate or start) starts afresh.
 */
export class SettledWindows {
  private readonly held = new Map<string, JudgedWindows>();

  constructor(private readonly o: SettledWindowsOptions) {}

  forget(service: string): void {
    this.held.delete(service);
  }

  /**
   * Reads what settled since the last call. With `weight`, each new bucket is
   * labelled with the weight it was recorded under: from the weight's start
   * the current one, before it the one the last round saw; buckets from before
   * a change this loop never saw (a new lease holder) stay unlabelled, so the
   * detector treats the change as the start of the current weight.
   */
  async load(service: string, series: JudgedSeries, key: string, startedAt: number, now: number, weight?: KnownWeight): Promise<JudgedWindows> {
    const { bucketMs } = this.o;
    let windows = this.held.get(service);
    if (windows === undefined || windows.key !== key) {
      const first = bucketStart(startedAt, bucketMs);
      const before = await this.o.store.readWindows(service, first - this.o.baselineMs, first, bucketMs);
      // One pass over ten minutes of buckets: folding with mergeArms copied the running sum for each one.
      const baseline = sumArms(before.filter((s) => s.version === series.baseline).map((s) => s.arm));
      windows = { key, baseline, buckets: [], readUpToMs: first, weight: null, inconclusiveInARow: 0, checkpoint: null };
      this.held.set(service, windows);
    }
    const settled = bucketStart(now - this.o.settleMs, bucketMs);
    if (settled > windows.readUpToMs) {
      const slices = await this.o.store.readWindows(service, windows.readUpToMs, settled, bucketMs);
      const fresh = byBucket(slices, series, windows.readUpToMs, settled, bucketMs);
      if (weight !== undefined) for (const b of fresh) label(b, weight, windows.weight);
      windows.buckets.push(...fresh);
      windows.readUpToMs = settled;
    }
    if (weight !== undefined) windows.weight = weight;
    return windows;
  }
}

function label(b: JudgedBucket, current: KnownWeight, before: KnownWeight | null): void {
  if (b.bucketMs >= current.sinceMs) b.weightBp = current.weightBp;
  else if (before !== null) b.weightBp = before.weightBp;
}

/** One entry per bucket in [from, to), empty windows where no traffic came. */
function byBucket(slices: readonly WindowSlice[], series: JudgedSeries, fromMs: number, toMs: number, widthMs: number): JudgedBucket[] {
  const buckets = new Map<number, JudgedBucket>();
  for (let b = fromMs; b < toMs; b += widthMs) buckets.set(b, { bucketMs: b, stable: EMPTY_ARM, candidate: EMPTY_ARM, extra: EMPTY_ARM });
  for (const slice of slices) {
    const bucket = buckets.get(slice.bucketMs);
    if (bucket === undefined) continue;
    if (slice.version === series.stable) bucket.stable = mergeArms(bucket.stable, slice.arm);
    else if (slice.version === series.candidate) bucket.candidate = mergeArms(bucket.candidate, slice.arm);
    else if (slice.version === series.extra) bucket.extra = mergeArms(bucket.extra, slice.arm);
  }
  return [...buckets.values()];
}
