import type { ArmWindow } from './window.js';

/** Both arms' windows of one complete time bucket of a rollout. */
export interface AnalysisBucket {
  readonly bucketMs: number;
  readonly stable: ArmWindow;
  readonly candidate: ArmWindow;
  /**
   * The candidate's weight while this bucket was recorded, when the caller knows
   * it: a change starts a latency warm-up, and the sample-ratio check expects it.
   */
  readonly weightBp?: number;
}

export interface AnalysisInput {
  readonly now: number;
  /** The candidate's current weight, 0..10000. */
  readonly weightBp: number;
  /** When the current weight took effect (the step start); the sample-ratio check looks no further back. */
  readonly weightSinceMs?: number;
  /** Stable's merged window over the pre-rollout period, for the latency thresholds; may be empty. */
  readonly baseline: ArmWindow;
  /** Every complete bucket since the rollout started, oldest first. Complete buckets never change. */
  readonly buckets: ReadonlyArray<AnalysisBucket>;
}

/** The trailing buckets within `windowMs` of the newest one (and not before `sinceMs`), newest first. */
export function recentBuckets(buckets: ReadonlyArray<AnalysisBucket>, windowMs: number, sinceMs = -Infinity): AnalysisBucket[] {
  const last = buckets[buckets.length - 1];
  if (last === undefined) return [];
  const out: AnalysisBucket[] = [];
  for (let i = buckets.length - 1; i >= 0; i--) {
    const b = buckets[i] as AnalysisBucket;
    if (b.bucketMs <= last.bucketMs - windowMs || b.bucketMs < sinceMs) break;
    out.push(b);
  }
  return out;
}

/**
 * Error events and the requests they are drawn from. Deduplicated, an event
 * is a distinct failing sticky key and a key's retries count once among the
 * requests too, so a retry storm on one arm moves neither the event count nor
 * the realised share ρ_t.
 */
export function errorCounts(arm: ArmWindow, dedupByKey: boolean): { requests: number; events: number } {
  if (!dedupByKey) return { requests: arm.requests, events: arm.errors };
  const events = Math.min(arm.failingKeys, arm.errors);
  return { requests: arm.requests - arm.errors + events, events };
}
