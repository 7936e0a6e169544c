import type { AnalysisBucket } from '../../src/core/analysis/input.js';
import { latencyValue } from '../../src/core/analysis/window.js';

/**
 * A Flagger-style rule for comparison:
 * every interval (1 min) the candidate's success rate over the last interval
 * must be ≥ 99 % and its p99 ≤ 500 ms (Flagger's documented defaults); each
 * failing tick adds one failed check, successes never reset the count, and the
 * tick after the count reaches the threshold (5) rolls back, in the order of
 * Flagger's scheduler.go (threshold check before the analysis).
 */
export interface FlaggerRule {
  readonly intervalMs: number;
  readonly threshold: number;
  readonly minSuccessRate: number;
  readonly maxP99Ms: number;
}

export const FLAGGER_RULE: FlaggerRule = { intervalMs: 60_000, threshold: 5, minSuccessRate: 0.99, maxP99Ms: 500 };

export interface FlaggerState {
  failedChecks: number;
}

/** One tick at `nowMs`: true when it rolls back. `recent` are the buckets of the last interval. */
export function flaggerTick(rule: FlaggerRule, state: FlaggerState, recent: readonly AnalysisBucket[]): boolean {
  if (state.failedChecks >= rule.threshold) return true;
  let requests = 0;
  let errors = 0;
  const hist = new Map<number, number>();
  for (const b of recent) {
    requests += b.candidate.requests;
    errors += b.candidate.errors;
    for (const k in b.candidate.latency) hist.set(Number(k), (hist.get(Number(k)) ?? 0) + (b.candidate.latency[k] ?? 0));
  }
  // Flagger fails a check when the query returns no value ("no values found").
  const ok = requests > 0 && 1 - errors / requests >= rule.minSuccessRate && p99(hist, requests) <= rule.maxP99Ms;
  if (!ok) state.failedChecks += 1;
  return false;
}

function p99(hist: Map<number, number>, total: number): number {
  const rank = Math.ceil(0.99 * total);
  let seen = 0;
  for (const key of [...hist.keys()].sort((a, b) => a - b)) {
    seen += hist.get(key) ?? 0;
    if (seen >= rank) return latencyValue(key);
  }
  return 0;
}
