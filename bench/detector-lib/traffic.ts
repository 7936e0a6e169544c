import type { AnalysisBucket } from '../../src/core/analysis/input.js';
import { LATENCY_RELATIVE_ACCURACY, type ArmWindow } from '../../src/core/analysis/window.js';
import type { Rng } from './rng.js';

/**
 * Seeded traffic for the detector bench:
 * Poisson arrivals, sticky users (see Population), errors that come in
 * clusters from one key (the client retries a failed request on the same
 * arm), log-normal latency, and shared factors that move both versions at
 * once (incidents, slowdowns, ramps, surges: see environment.ts).
 */
export interface Scenario {
  readonly rps: number;
  /** The candidate's weight from the start: a fixed canary's, or a plan's first step (the run then moves it). */
  readonly weightBp: number;
  readonly users: number;
  readonly baseErrorRate: number;
  /** Candidate error rate = ratio × stable's (capped at 1); Infinity is a total failure. */
  readonly errorRatio: number;
  /** Candidate latencies are multiplied by this (on top of the shared factor). */
  readonly latencyFactor: number;
  readonly latencyMedianMs: number;
  readonly latencySigma: number;
  /** Mean extra (failing) retries after an error: mean cluster size is 1 + this. */
  readonly retryMean: number;
  /** The step of the plan from which the candidate's errorRatio and latencyFactor apply (a regression that appears late); from the start when absent. */
  readonly fromStep?: number;
}

/** What hits both versions alike in one bucket: multipliers of the request rate, the latency and the error rate. */
export interface SharedFactors {
  readonly rps: number;
  readonly latency: number;
  readonly errors: number;
}

export const NO_SHARED_CHANGE: SharedFactors = { rps: 1, latency: 1, errors: 1 };

/**
 * The run's sticky users, each with a fixed bucket in 0..9999 (the murmur
 * bucket of `salt:key`), and the weight routing them now: a user is on the
 * candidate while its bucket is below the weight, so raising the weight only
 * adds users, as the real hash does. The run moves `weightBp` as the rollout
 * state moves.
 */
export class Population {
  /** belowBp[w]: users whose bucket is below w basis points. */
  private readonly belowBp = new Uint32Array(10_001);

  constructor(
    rng: Rng,
    readonly users: number,
    public weightBp: number,
  ) {
    for (let u = 0; u < users; u++) this.belowBp[(rng.uint32() % 10_000) + 1]! += 1;
    for (let w = 1; w <= 10_000; w++) this.belowBp[w]! += this.belowBp[w - 1]!;
  }

  /** Users on the candidate at the current weight. */
  get onCandidate(): number {
    return this.belowBp[Math.max(0, Math.min(10_000, this.weightBp))]!;
  }
}

/** The run's users, routed at the scenario's starting weight. */
export function candidateUsers(rng: Rng, s: Scenario): Population {
  return new Population(rng, s.users, s.weightBp);
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

/**
 * One bucket of both arms starting at `startMs`, labelled with the weight it
 * was recorded under (as the analysis loop labels them); `shared` is what
 * hits both versions at that moment.
 */
export function simulateBucket(
  rng: Rng,
  s: Scenario,
  population: Population,
  startMs: number,
  bucketMs: number,
  shared: SharedFactors = NO_SHARED_CHANGE,
  regressed = true,
): AnalysisBucket {
  const errorRatio = regressed ? s.errorRatio : 1;
  const latencyFactor = regressed ? s.latencyFactor : 1;
  const stableRate = Math.min(1, s.baseErrorRate * shared.errors);
  const candidateRate = errorRatio === Infinity ? 1 : Math.min(1, s.baseErrorRate * errorRatio * shared.errors);
  const onCandidate = population.onCandidate;
  const share = onCandidate / population.users;
  const expected = (s.rps * shared.rps * bucketMs) / 1000;
  const medianMs = s.latencyMedianMs * shared.latency;
  const candidate = simulateArm(rng, s, rng.poisson(expected * share), onCandidate, candidateRate, medianMs * latencyFactor);
  const stable = simulateArm(rng, s, rng.poisson(expected * (1 - share)), population.users - onCandidate, stableRate, medianMs);
  return { bucketMs: startMs, stable, candidate, weightBp: population.weightBp };
}

function simulateArm(rng: Rng, s: Scenario, arrivals: number, users: number, errorRate: number, medianMs: number): ArmWindow {
  const arm = emptyArm();
  const failing = new Set<number>();
  const lnMedian = Math.log(medianMs);
  for (let i = 0; i < arrivals; i++) {
    record(rng, s, arm, lnMedian);
    if (rng.float() >= errorRate) continue;
    const key = rng.int(Math.max(1, users));
    failing.add(key);
    arm.errors += 1;
    for (let retries = rng.geometric(s.retryMean); retries > 0; retries--) {
      record(rng, s, arm, lnMedian);
      arm.errors += 1;
    }
  }
  return finish(arm, failing.size);
}

/** ln γ of the windows' DDSketch mapping: key = ⌈ln v / ln γ⌉ is `latencyKey(v)` without the round trip through exp. */
const LN_GAMMA = Math.log((1 + LATENCY_RELATIVE_ACCURACY) / (1 - LATENCY_RELATIVE_ACCURACY));

function record(rng: Rng, s: Scenario, arm: MutableArm, lnMedian: number): void {
  const ln = lnMedian + s.latencySigma * rng.normal();
  const key = Math.ceil(ln / LN_GAMMA);
  arm.requests += 1;
  arm.logSum += ln;
  arm.logSqSum += ln * ln;
  const i = Math.min(scratch.length - 1, Math.max(0, key - SCRATCH_MIN));
  if (scratch[i] === 0) touched.push(i + SCRATCH_MIN);
  scratch[i] = (scratch[i] as number) + 1;
}

/** Stable's window over the pre-rollout period: all traffic on stable, nothing shared going on. */
export function baselineWindow(rng: Rng, s: Scenario, durationMs: number): ArmWindow {
  const arm = emptyArm();
  const lnMedian = Math.log(s.latencyMedianMs);
  const n = rng.poisson((s.rps * durationMs) / 1000);
  for (let i = 0; i < n; i++) record(rng, s, arm, lnMedian);
  return finish(arm, 0);
}
