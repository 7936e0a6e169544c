import type { AnalysisConfig } from './config.js';
import { addEvents, cloneGridProcess, logEvidence, logWeightedSum, newGridProcess, type GridProcess } from './e-process.js';
import { errorCounts, type AnalysisBucket } from './input.js';
import { LATENCY_QUANTILES, msprt, newDenseHistogram, quantileKey, scanHistogram, type LogMoments, type MsprtResult } from './latency-test.js';
import { recordedSaturated, type ArmWindow } from './window.js';

/**
 * The evidence of one rollout, folded bucket by bucket, oldest first. It is
 * never reset by a weight change: the realised share ρ_t absorbs it
 * (research/canary-statistics.md §2.1 guards, §5). All metrics share one α by
 * averaging their e-processes (§2.4): errors get `errorShare`, latency the
 * rest, split half to the exceedance tests (p50/p90/p99 alike) and half to the
 * mSPRT (§2.2 recommendation).
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
  /** Requests above each threshold in the judged buckets, all of them (the e-processes skip one-armed buckets). */
  candidateAbove: Float64Array;
  stableAbove: Float64Array;
  /** Histograms and log moments of the judged buckets (thresholds known, warm-up over). */
  candidateHist: Float64Array;
  stableHist: Float64Array;
  candidateLog: LogMoments;
  stableLog: LogMoments;
}

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
    saturatedBuckets: 0,
    peakLog: new Float64Array(COMPONENTS.length).fill(-Infinity),
    peakCombinedLog: -Infinity,
    crossedAtMs: null,
    crossedBy: null,
  };
}

/** Thresholds come from the pre-rollout baseline when it is big enough (§2.2A), else from the first stable buckets. */
function newLatencyState(config: AnalysisConfig, baseline: ArmWindow): LatencyState {
  const grids = [config.latencyGridP50, config.latencyGridP90, config.latencyGridP99];
  const state: LatencyState = {
    thresholdKeys: null,
    thresholdSource: null,
    pool: newDenseHistogram(),
    poolCount: 0,
    exceed: grids.map((g) => newGridProcess(g, config.latencyMargin)),
    candidateAbove: new Float64Array(LATENCY_QUANTILES.length),
    stableAbove: new Float64Array(LATENCY_QUANTILES.length),
    candidateHist: newDenseHistogram(),
    stableHist: newDenseHistogram(),
    candidateLog: { n: 0, sum: 0, sumSq: 0 },
    stableLog: { n: 0, sum: 0, sumSq: 0 },
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
    peakLog: s.peakLog.slice(),
    latency: l === null ? null : {
      ...l,
      thresholdKeys: l.thresholdKeys === null ? null : [...l.thresholdKeys],
      pool: l.pool === null ? null : l.pool.slice(),
      exceed: l.exceed.map(cloneGridProcess),
      candidateAbove: l.candidateAbove.slice(),
      stableAbove: l.stableAbove.slice(),
      candidateHist: l.candidateHist.slice(),
      stableHist: l.stableHist.slice(),
      candidateLog: { ...l.candidateLog },
      stableLog: { ...l.stableLog },
    },
  };
}

/** Adds one bucket to the state (mutates it; callers own a fresh or cloned state). */
export function foldBucket(s: EvidenceState, b: AnalysisBucket, config: AnalysisConfig, weights: readonly number[]): void {
  if (s.firstBucketMs === null) {
    s.firstBucketMs = b.bucketMs;
    s.warmupUntilMs = b.bucketMs + config.latencyWarmupMs;
  }
  if (b.weightBp !== undefined) {
    if (s.lastWeightBp !== null && b.weightBp !== s.lastWeightBp) s.warmupUntilMs = b.bucketMs + config.latencyWarmupMs;
    s.lastWeightBp = b.weightBp;
  }
  s.buckets += 1;
  s.lastBucketMs = b.bucketMs;
  addTotals(s.candidate, b.candidate);
  addTotals(s.stable, b.stable);
  const c = errorCounts(b.candidate, config.dedupByKey);
  const st = errorCounts(b.stable, config.dedupByKey);
  addEvents(s.errors, share(c.requests, st.requests), c.events, st.events);
  const saturated = recordedSaturated(b.candidate) || recordedSaturated(b.stable);
  if (saturated) s.saturatedBuckets += 1;
  if (s.latency !== null && !saturated) {
    const rho = share(b.candidate.requests, b.stable.requests);
    foldLatency(s.latency, b, rho, b.bucketMs >= s.warmupUntilMs, config);
  }
  updatePeaks(s, b.bucketMs, config, weights);
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

function foldLatency(l: LatencyState, b: AnalysisBucket, rho: number, judged: boolean, config: AnalysisConfig): void {
  if (l.thresholdKeys === null) {
    // Thresholds from earlier stable buckets only: they apply from the next bucket on (§2.2A, §5).
    l.poolCount += scanHistogram(b.stable.latency, l.pool, null, null);
    fixThresholds(l, config, 'rollout');
    return;
  }
  if (!judged) return;
  const exC = new Float64Array(LATENCY_QUANTILES.length);
  const exB = new Float64Array(LATENCY_QUANTILES.length);
  const nC = scanHistogram(b.candidate.latency, l.candidateHist, l.thresholdKeys, exC);
  const nB = scanHistogram(b.stable.latency, l.stableHist, l.thresholdKeys, exB);
  for (let q = 0; q < l.exceed.length; q++) {
    addEvents(l.exceed[q] as GridProcess, rho, exC[q] as number, exB[q] as number);
    l.candidateAbove[q] = (l.candidateAbove[q] as number) + (exC[q] as number);
    l.stableAbove[q] = (l.stableAbove[q] as number) + (exB[q] as number);
  }
  addMoments(l.candidateLog, nC, b.candidate);
  addMoments(l.stableLog, nB, b.stable);
}

function addMoments(m: LogMoments, n: number, arm: ArmWindow): void {
  m.n += n;
  m.sum += arm.logSum;
  m.sumSq += arm.logSqSum;
}

export function latencyMeanTest(s: EvidenceState, config: AnalysisConfig): MsprtResult | null {
  const l = s.latency;
  return l === null ? null : msprt(l.candidateLog, l.stableLog, config.msprtTau, config.msprtMargin);
}

/**
 * ln E of each component, or −∞ while its guard is unmet: fewer than
 * `minCandidateEvents` canary events (§2.1A), the mSPRT burn-in, or a candidate
 * faster than stable (the mSPRT is one-sided, §2.2B). Dropping a term only
 * lowers the average, so the rule stays within α (Ville). With `gated` false,
 * only the one-sidedness applies: the figures an operator watches grow.
 */
export function componentLogs(s: EvidenceState, config: AnalysisConfig, gated = true): number[] {
  const min = gated ? config.minCandidateEvents : 0;
  const gate = (p: GridProcess) => (p.candidateEvents >= min ? logEvidence(p) : -Infinity);
  const l = s.latency;
  if (l === null || l.thresholdKeys === null) return [gate(s.errors), -Infinity, -Infinity, -Infinity, -Infinity];
  const mean = !gated || l.candidateLog.n >= config.msprtBurnIn ? latencyMeanTest(s, config) : null;
  const meanLog = mean !== null && mean.delta > 0 ? mean.logLambda : -Infinity;
  return [gate(s.errors), ...l.exceed.map(gate), meanLog];
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
