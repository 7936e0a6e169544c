import type { AnalysisConfig } from './config.js';
import { addEvents, cloneGridProcess, logEvidence, logWeightedSum, newGridProcess, type GridProcess } from './e-process.js';
import { errorCounts, type AnalysisBucket } from './input.js';
import {
  addBucketMoments,
  addScaledHistogram,
  LATENCY_QUANTILES,
  msprt,
  newDenseHistogram,
  newStratifiedMoments,
  quantileKey,
  scanHistogram,
  type MsprtResult,
  type StratifiedMoments,
} from './latency-test.js';
import { recordedSaturated, type ArmWindow } from './window.js';

/**
 * The evidence of one rollout, folded bucket by bucket, oldest first. Every
 * comparison is made within a bucket: the error and exceedance e-processes are
 * conditional on the bucket's candidate share, the mean-latency test compares
 * the two arms' means bucket by bucket, and a bucket where one arm had no
 * request adds no evidence. So a change that hits both versions at once (a load
 * surge, the time of day, a shared dependency) is never evidence against the
 * candidate, whatever its share does at that moment. All metrics share one α by
 * averaging their e-processes: errors get `errorShare`, latency the rest, split
 * half to the exceedance tests (p50/p90/p99 alike) and half to the mean test.
 *
 * Each test runs since the rollout started (the share absorbs weight changes)
 * and, restarted, since each later weight change: a healthy first step drives
 * the evidence since the start far below 1, so a regression that appears only
 * at a later weight would have to climb all of that back before it counted.
 * The tests since the start weigh 1 − restartShare of the average, each
 * restart half of what is left; a test started at a weight change is 1 before
 * it, so the average stays an e-process.
 */

export const COMPONENTS = ['errors', 'latencyP50', 'latencyP90', 'latencyP99', 'latencyMean'] as const;
export type Component = (typeof COMPONENTS)[number];

export interface ArmTotals {
  requests: number;
  errors: number;
  failingKeys: number;
}

export interface LatencyState {
  /** Keys of the bins holding stable's p50/p90/p99; null while stable requests are still being pooled. */
  thresholdKeys: number[] | null;
  thresholdSource: 'baseline' | 'rollout' | null;
  pool: Float64Array | null;
  poolCount: number;
  exceed: GridProcess[];
  /**
   * Figures for people, over the judged buckets with both arms: the candidate's
   * histogram and requests above each threshold, and stable's standardised to
   * the candidate's share (each bucket weighted n_c/n_b), so both describe the
   * same moments in time.
   */
  candidateHist: Float64Array;
  stableHist: Float64Array;
  candidateAbove: Float64Array;
  stableAbove: Float64Array;
  means: StratifiedMoments;
}

/** The buckets since the candidate's weight last changed: what a step is judged on. */
export interface WeightSegment {
  /** Candidate requests in buckets where stable had requests too (errors compared). */
  comparedRequests: number;
  /** Candidate latencies judged (thresholds fixed, warm-up over, gateway not saturated, stable present). */
  judgedLatencies: number;
}

/** The tests started afresh at one weight change, and their share of the average. */
export interface Restart {
  readonly share: number;
  readonly errors: GridProcess;
  /** p50/p90/p99; empty while the thresholds are not fixed or latency is not judged. */
  exceed: GridProcess[];
  readonly means: StratifiedMoments;
}

/** Restarts kept at most: later ones would weigh less than 1e-3 of the budget. */
const MAX_RESTARTS = 8;

export interface EvidenceState {
  buckets: number;
  firstBucketMs: number | null;
  lastBucketMs: number | null;
  candidate: ArmTotals;
  stable: ArmTotals;
  errors: GridProcess;
  latency: LatencyState | null;
  lastWeightBp: number | null;
  warmupUntilMs: number;
  segment: WeightSegment;
  /** The tests restarted at each weight change, oldest first. */
  restarts: Restart[];
  /** Candidate requests since the start in buckets where stable had requests too: how much was ever compared. */
  comparedRequests: number;
  /** Buckets whose latency was not judged because the gateway that recorded them was saturated. */
  saturatedBuckets: number;
  /** Per component and combined: the largest gated ln E seen after any bucket. */
  peakLog: Float64Array;
  peakCombinedLog: number;
  /** The first bucket after which the combined evidence reached 1/α, and its largest contributor. */
  crossedAtMs: number | null;
  crossedBy: Component | null;
}

/** Weight of each component in the evidence average, in COMPONENTS order. */
export function componentWeights(config: AnalysisConfig): number[] {
  if (!config.latencyEnabled) return [1, 0, 0, 0, 0];
  const latency = 1 - config.errorShare;
  return [config.errorShare, latency / 6, latency / 6, latency / 6, latency / 2];
}

export function newEvidenceState(config: AnalysisConfig, baseline: ArmWindow): EvidenceState {
  return {
    buckets: 0,
    firstBucketMs: null,
    lastBucketMs: null,
    candidate: { requests: 0, errors: 0, failingKeys: 0 },
    stable: { requests: 0, errors: 0, failingKeys: 0 },
    errors: newGridProcess(config.errorGrid, config.errorMargin),
    latency: config.latencyEnabled ? newLatencyState(config, baseline) : null,
    lastWeightBp: null,
    warmupUntilMs: -Infinity,
    segment: { comparedRequests: 0, judgedLatencies: 0 },
    restarts: [],
    comparedRequests: 0,
    saturatedBuckets: 0,
    peakLog: new Float64Array(COMPONENTS.length).fill(-Infinity),
    peakCombinedLog: -Infinity,
    crossedAtMs: null,
    crossedBy: null,
  };
}

/** Thresholds come from the pre-rollout baseline when it is big enough, else from the first stable buckets. */
function newLatencyState(config: AnalysisConfig, baseline: ArmWindow): LatencyState {
  const state: LatencyState = {
    thresholdKeys: null,
    thresholdSource: null,
    pool: newDenseHistogram(),
    poolCount: 0,
    exceed: newExceedance(config),
    candidateHist: newDenseHistogram(),
    stableHist: newDenseHistogram(),
    candidateAbove: new Float64Array(LATENCY_QUANTILES.length),
    stableAbove: new Float64Array(LATENCY_QUANTILES.length),
    means: newStratifiedMoments(),
  };
  state.poolCount = scanHistogram(baseline.latency, state.pool, null, null);
  fixThresholds(state, config, 'baseline');
  return state;
}

function fixThresholds(state: LatencyState, config: AnalysisConfig, source: 'baseline' | 'rollout'): void {
  if (state.pool === null || state.poolCount < config.latencyBaselineMinRequests) return;
  const pool = state.pool;
  state.thresholdKeys = LATENCY_QUANTILES.map((q) => quantileKey(pool, q, state.poolCount) as number);
  state.thresholdSource = source;
  state.pool = null;
}

export function cloneEvidenceState(s: EvidenceState): EvidenceState {
  const l = s.latency;
  return {
    ...s,
    candidate: { ...s.candidate },
    stable: { ...s.stable },
    errors: cloneGridProcess(s.errors),
    segment: { ...s.segment },
    restarts: s.restarts.map((r) => ({ ...r, errors: cloneGridProcess(r.errors), exceed: r.exceed.map(cloneGridProcess), means: { ...r.means } })),
    peakLog: s.peakLog.slice(),
    latency: l === null ? null : {
      ...l,
      thresholdKeys: l.thresholdKeys === null ? null : [...l.thresholdKeys],
      pool: l.pool === null ? null : l.pool.slice(),
      exceed: l.exceed.map(cloneGridProcess),
      candidateHist: l.candidateHist.slice(),
      stableHist: l.stableHist.slice(),
      candidateAbove: l.candidateAbove.slice(),
      stableAbove: l.stableAbove.slice(),
      means: { ...l.means },
    },
  };
}

/** Adds one bucket to the state (mutates it; callers own a fresh or cloned state). */
export function foldBucket(s: EvidenceState, b: AnalysisBucket, config: AnalysisConfig, weights: readonly number[]): void {
  const weightBp = b.weightBp ?? null;
  if (s.firstBucketMs === null) {
    s.firstBucketMs = b.bucketMs;
    s.warmupUntilMs = b.bucketMs + config.latencyWarmupMs;
    s.segment = { comparedRequests: 0, judgedLatencies: 0 };
  } else if (weightBp !== null && weightBp !== s.lastWeightBp) {
    // A change of weight, or the first bucket whose weight is known after ones that were not: a new
    // segment, a latency warm-up (a cold start at the new share is not the candidate's regression),
    // and the tests restarted.
    s.warmupUntilMs = b.bucketMs + config.latencyWarmupMs;
    s.segment = { comparedRequests: 0, judgedLatencies: 0 };
    restart(s, config);
  }
  if (weightBp !== null) s.lastWeightBp = weightBp;
  s.buckets += 1;
  s.lastBucketMs = b.bucketMs;
  addTotals(s.candidate, b.candidate);
  addTotals(s.stable, b.stable);
  const c = errorCounts(b.candidate, config.dedupByKey);
  const st = errorCounts(b.stable, config.dedupByKey);
  const rho = share(c.requests, st.requests);
  addEvents(s.errors, rho, c.events, st.events);
  for (const r of s.restarts) addEvents(r.errors, rho, c.events, st.events);
  if (b.candidate.requests > 0 && b.stable.requests > 0) {
    s.segment.comparedRequests += b.candidate.requests;
    s.comparedRequests += b.candidate.requests;
  }
  const saturated = recordedSaturated(b.candidate) || recordedSaturated(b.stable);
  if (saturated) s.saturatedBuckets += 1;
  if (s.latency !== null && !saturated) {
    const judged = foldLatency(s.latency, s.restarts, b, b.bucketMs >= s.warmupUntilMs, config);
    s.segment.judgedLatencies += judged;
  }
  updatePeaks(s, b.bucketMs, config, weights);
}

/** Starts the tests afresh at a weight change, while fewer than MAX_RESTARTS run. */
function restart(s: EvidenceState, config: AnalysisConfig): void {
  if (config.restartShare === 0 || s.restarts.length >= MAX_RESTARTS) return;
  const share = config.restartShare * 0.5 ** (s.restarts.length + 1);
  s.restarts.push({ share, errors: newGridProcess(config.errorGrid, config.errorMargin), exceed: newExceedance(config), means: newStratifiedMoments() });
}

function newExceedance(config: AnalysisConfig): GridProcess[] {
  if (!config.latencyEnabled) return [];
  return [config.latencyGridP50, config.latencyGridP90, config.latencyGridP99].map((g) => newGridProcess(g, config.latencyMargin));
}

/** The candidate's realised share ρ_t (0 without requests: such buckets are skipped). */
function share(candidate: number, stable: number): number {
  return candidate + stable > 0 ? candidate / (candidate + stable) : 0;
}

function addTotals(t: ArmTotals, arm: ArmWindow): void {
  t.requests += arm.requests;
  t.errors += arm.errors;
  t.failingKeys += arm.failingKeys;
}

/** Folds one bucket's latencies into the tests since the start and every restart; returns the candidate latencies it judged. */
function foldLatency(l: LatencyState, restarts: readonly Restart[], b: AnalysisBucket, pastWarmup: boolean, config: AnalysisConfig): number {
  if (l.thresholdKeys === null) {
    // Thresholds from earlier stable buckets only: they apply from the next bucket on.
    l.poolCount += scanHistogram(b.stable.latency, l.pool, null, null);
    fixThresholds(l, config, 'rollout');
    return 0;
  }
  if (!pastWarmup || b.candidate.requests === 0 || b.stable.requests === 0) return 0;
  const rho = b.candidate.requests / (b.candidate.requests + b.stable.requests);
  const exC = new Float64Array(LATENCY_QUANTILES.length);
  const exB = new Float64Array(LATENCY_QUANTILES.length);
  const nC = scanHistogram(b.candidate.latency, l.candidateHist, l.thresholdKeys, exC);
  const nB = scanHistogram(b.stable.latency, null, l.thresholdKeys, exB);
  if (nC === 0 || nB === 0) return 0;
  const standardise = nC / nB;
  addScaledHistogram(b.stable.latency, l.stableHist, standardise);
  for (let q = 0; q < LATENCY_QUANTILES.length; q++) {
    l.candidateAbove[q] = (l.candidateAbove[q] as number) + (exC[q] as number);
    l.stableAbove[q] = (l.stableAbove[q] as number) + (exB[q] as number) * standardise;
  }
  const candidate = { n: nC, sum: b.candidate.logSum, sumSq: b.candidate.logSqSum };
  const stable = { n: nB, sum: b.stable.logSum, sumSq: b.stable.logSqSum };
  for (const tests of [l, ...restarts]) {
    tests.exceed.forEach((process, q) => addEvents(process, rho, exC[q] as number, exB[q] as number));
    addBucketMoments(tests.means, candidate, stable);
  }
  return nC;
}

export function latencyMeanTest(s: EvidenceState, config: AnalysisConfig): MsprtResult | null {
  const l = s.latency;
  return l === null ? null : msprt(l.means, config.msprtTau, config.msprtMargin);
}

/**
 * ln E of each component: the average, over the tests since the start and
 * every restart, each weighed by its share, of its evidence, or nothing from
 * a test whose guard is unmet: fewer than `minCandidateEvents` canary events,
 * the mean test's burn-in, or a candidate faster than stable (the mean test is
 * one-sided). Dropping a term only lowers the average, so the rule stays
 * within α (Ville's inequality). With `gated` false, only the one-sidedness
 * applies: the figures an operator watches grow.
 */
export function componentLogs(s: EvidenceState, config: AnalysisConfig, gated = true): number[] {
  const l = s.latency;
  const latencyJudged = l !== null && l.thresholdKeys !== null;
  // Fixed shares, whatever the data: a restart not begun yet counts as nothing (dropping a term is allowed).
  const sets = [{ share: 1 - config.restartShare, errors: s.errors, exceed: l?.exceed ?? [], means: l?.means ?? null }, ...s.restarts];
  return COMPONENTS.map((component, i) => {
    if (i > 0 && !latencyJudged) return -Infinity;
    return logWeightedSum(sets.map((t) => ({ weight: t.share, logValue: testLog(component, i, t, config, gated) })));
  });
}

function testLog(
  component: Component,
  i: number,
  t: { readonly errors: GridProcess; readonly exceed: readonly GridProcess[]; readonly means: StratifiedMoments | null },
  config: AnalysisConfig,
  gated: boolean,
): number {
  if (component === 'latencyMean') {
    if (t.means === null || (gated && t.means.candidateN < config.msprtBurnIn)) return -Infinity;
    const m = msprt(t.means, config.msprtTau, config.msprtMargin);
    return m !== null && m.delta > 0 ? m.logLambda : -Infinity;
  }
  const process = component === 'errors' ? t.errors : t.exceed[i - 1];
  if (process === undefined || (gated && process.candidateEvents < config.minCandidateEvents)) return -Infinity;
  return logEvidence(process);
}

/** ln of the weighted average of the components' evidence. */
export function combinedLog(logs: readonly number[], weights: readonly number[]): number {
  return logWeightedSum(logs.map((logValue, i) => ({ weight: weights[i] as number, logValue })));
}

/** The component that contributes most to the weighted average. */
export function leadingComponent(logs: readonly number[], weights: readonly number[]): Component {
  let best = 0;
  for (let i = 1; i < logs.length; i++) {
    if (Math.log(weights[i] as number) + (logs[i] as number) > Math.log(weights[best] as number) + (logs[best] as number)) best = i;
  }
  return COMPONENTS[best] as Component;
}

function updatePeaks(s: EvidenceState, bucketMs: number, config: AnalysisConfig, weights: readonly number[]): void {
  const logs = componentLogs(s, config);
  for (let i = 0; i < logs.length; i++) s.peakLog[i] = Math.max(s.peakLog[i] as number, logs[i] as number);
  const combined = combinedLog(logs, weights);
  s.peakCombinedLog = Math.max(s.peakCombinedLog, combined);
  if (s.crossedAtMs === null && combined >= Math.log(1 / config.alpha)) {
    s.crossedAtMs = bucketMs;
    s.crossedBy = leadingComponent(logs, weights);
  }
}
