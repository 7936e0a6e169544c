import type { AnalysisBucket } from '../../src/core/analysis/input.js';
import { LATENCY_RELATIVE_ACCURACY, type ArmWindow } from '../../src/core/analysis/window.js';
import type { Rng } from './rng.js';

/**
 * Seeded traffic for the detector bench (research/canary-statistics.md §4.1):
 * Poisson arrivals, sticky users (each user's arm is fixed for the run, drawn
 * by weight like the murmur bucket), errors that come in clusters from one
 * key (the client retries a failed request on the same arm), log-normal
 * latency, and optional shared incidents (both arms' error rate ×10).
 */
export interface Scenario {
  readonly rps: number;
  readonly weightBp: number;
  readonly users: number;
  readonly baseErrorRate: number;
  /** Candidate error rate = ratio × stable's (capped at 1); Infinity is a total failure. */
  readonly errorRatio: number;
  /** Candidate latencies are multiplied by this. */
  readonly latencyFactor: number;
  readonly latencyMedianMs: number;
  readonly latencySigma: number;
  /** Mean extra (failing) retries after an error: mean cluster size is 1 + this. */
  readonly retryMean: number;
  readonly incident: { readonly startMs: number; readonly durationMs: number; readonly factor: number } | null;
}

/**
 * An arm being filled: latency counts go to a dense scratch array (one arm is
 * filled at a time) and become the window's record once, at the end.
 */
interface MutableArm {
  requests: number;
  errors: number;
  logSum: number;
  logSqSum: number;
}

const SCRATCH_MIN = -1024;
const scratch = new Float64Array(4096);
const touched: number[] = [];

const emptyArm = (): MutableArm => ({ requests: 0, errors: 0, logSum: 0, logSqSum: 0 });

function finish(arm: MutableArm, failingKeys: number): ArmWindow {
  const latency: Record<string, number> = {};
  touched.sort((a, b) => a - b);
  for (const key of touched) {
    latency[key] = scratch[key - SCRATCH_MIN] as number;
    scratch[key - SCRATCH_MIN] = 0;
  }
  touched.length = 0;
  return { ...arm, failingKeys, latency };
}

/** The run's fixed population: how many users hash into the candidate. */
export function candidateUsers(rng: Rng, s: Scenario): number {
  let k = 0;
  for (let u = 0; u < s.users; u++) if (rng.uint32() % 10_000 < s.weightBp) k++;
  return k;
}

/** One 1-s bucket of both arms starting at `startMs`. */
export function simulateBucket(rng: Rng, s: Scenario, candidateUserCount: number, startMs: number, bucketMs: number): AnalysisBucket {
  const inIncident = s.incident !== null && startMs >= s.incident.startMs && startMs < s.incident.startMs + s.incident.durationMs;
  const shared = inIncident && s.incident !== null ? s.incident.factor : 1;
  const stableRate = Math.min(1, s.baseErrorRate * shared);
  const candidateRate = s.errorRatio === Infinity ? 1 : Math.min(1, s.baseErrorRate * s.errorRatio * shared);
  const share = candidateUserCount / s.users;
  const seconds = bucketMs / 1000;
  const candidate = simulateArm(rng, s, rng.poisson(s.rps * share * seconds), candidateUserCount, candidateRate, s.latencyFactor);
  const stable = simulateArm(rng, s, rng.poisson(s.rps * (1 - share) * seconds), s.users - candidateUserCount, stableRate, 1);
  return { bucketMs: startMs, stable, candidate, weightBp: s.weightBp };
}

function simulateArm(rng: Rng, s: Scenario, arrivals: number, users: number, errorRate: number, latencyFactor: number): ArmWindow {
  const arm = emptyArm();
  const failing = new Set<number>();
  for (let i = 0; i < arrivals; i++) {
    record(rng, s, arm, latencyFactor);
    if (rng.float() >= errorRate) continue;
    const key = rng.int(Math.max(1, users));
    failing.add(key);
    arm.errors += 1;
    for (let retries = rng.geometric(s.retryMean); retries > 0; retries--) {
      record(rng, s, arm, latencyFactor);
      arm.errors += 1;
    }
  }
  return finish(arm, failing.size);
}

/** ln γ of the windows' DDSketch mapping: key = ⌈ln v / ln γ⌉ is `latencyKey(v)` without the round trip through exp. */
const LN_GAMMA = Math.log((1 + LATENCY_RELATIVE_ACCURACY) / (1 - LATENCY_RELATIVE_ACCURACY));

function record(rng: Rng, s: Scenario, arm: MutableArm, latencyFactor: number): void {
  const ln = Math.log(s.latencyMedianMs * latencyFactor) + s.latencySigma * rng.normal();
  const key = Math.ceil(ln / LN_GAMMA);
  arm.requests += 1;
  arm.logSum += ln;
  arm.logSqSum += ln * ln;
  const i = Math.min(scratch.length - 1, Math.max(0, key - SCRATCH_MIN));
  if (scratch[i] === 0) touched.push(i + SCRATCH_MIN);
  scratch[i] = (scratch[i] as number) + 1;
}

/** Stable's window over the pre-rollout period: all traffic on stable, no incident. */
export function baselineWindow(rng: Rng, s: Scenario, durationMs: number): ArmWindow {
  const arm = emptyArm();
  const n = rng.poisson((s.rps * durationMs) / 1000);
  for (let i = 0; i < n; i++) record(rng, s, arm, 1);
  return finish(arm, 0);
}
