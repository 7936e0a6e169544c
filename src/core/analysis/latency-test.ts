import { latencyValue } from './window.js';

/**
 * Latency tests (docs/analysis.md, The statistics): exceedance counts at the
 * stable arm's p50/p90/p99 read from the log-bucketed histograms, and
 * the normal-mixture SPRT on mean log-latency.
 */

export const LATENCY_QUANTILES = [0.5, 0.9, 0.99] as const;

/** Dense histogram over DDSketch keys −128..383 (0.01 ms to 70 min at a = 2 %): index = key − KEY_MIN; keys outside are clamped. */
const KEY_MIN = -128;
const KEY_COUNT = 512;

export function newDenseHistogram(): Float64Array {
  return new Float64Array(KEY_COUNT);
}

function slot(key: number): number {
  return Math.min(KEY_COUNT - 1, Math.max(0, key - KEY_MIN));
}

/**
 * One pass over a bucket's histogram: adds it to `dense` (when given), counts
 * requests above each threshold key into `exceed` (when given) and returns the
 * number of requests in it.
 */
export function scanHistogram(
  latency: Readonly<Record<string, number>>,
  dense: Float64Array | null,
  thresholdKeys: readonly number[] | null,
  exceed: Float64Array | null,
): number {
  let total = 0;
  const keys = Object.keys(latency);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    const count = latency[k] as number;
    const key = Number(k);
    total += count;
    if (dense !== null) dense[slot(key)] = (dense[slot(key)] as number) + count;
    if (thresholdKeys !== null && exceed !== null) {
      for (let q = 0; q < thresholdKeys.length; q++) if (key > (thresholdKeys[q] as number)) exceed[q] = (exceed[q] as number) + count;
    }
  }
  return total;
}

/** Adds a bucket's histogram to `dense`, each count multiplied by `scale` (stable's, standardised to the candidate's share). */
export function addScaledHistogram(latency: Readonly<Record<string, number>>, dense: Float64Array, scale: number): void {
  for (const k in latency) {
    const i = slot(Number(k));
    dense[i] = (dense[i] as number) + (latency[k] as number) * scale;
  }
}

export function denseTotal(dense: Float64Array): number {
  let total = 0;
  for (let i = 0; i < dense.length; i++) total += dense[i] as number;
  return total;
}

/**
 * The key of the bin holding the q-quantile (rank ⌈q·n⌉); requests in bins with
 * a larger key exceed it. Null for an empty histogram.
 */
export function quantileKey(dense: Float64Array, q: number, total = denseTotal(dense)): number | null {
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < dense.length; i++) {
    seen += dense[i] as number;
    if (seen >= rank) return i + KEY_MIN;
  }
  return KEY_COUNT - 1 + KEY_MIN;
}

/** The q-quantile in ms (within the sketch's 2 % relative accuracy), or null. */
export function quantileMs(dense: Float64Array, q: number, total?: number): number | null {
  const key = quantileKey(dense, q, total);
  return key === null ? null : latencyValue(key);
}

/**
 * The q-quantile in ms of a sparse histogram (DDSketch key to count), laid out
 * dense so it is read by the same rank rule as the verdict's quantiles.
 */
export function sparseQuantileMs(latency: ReadonlyMap<number, number>, q: number): number | null {
  const dense = newDenseHistogram();
  for (const [key, count] of latency) dense[slot(key)] = (dense[slot(key)] as number) + count;
  return quantileMs(dense, q);
}

/** n, Σ ln v and Σ (ln v)² of one arm in one bucket. */
export interface LogMoments {
  readonly n: number;
  readonly sum: number;
  readonly sumSq: number;
}

/**
 * The mean log-latency comparison stratified by time bucket: each bucket in
 * which both arms were judged gives Δ_t = mean_t(ln v_c) − mean_t(ln v_b) with
 * variance σ²·h_t, h_t = 1/n_c,t + 1/n_b,t. Weighting by 1/h_t, the estimate is
 * Δ̂ = Σ(Δ_t/h_t) / Σ(1/h_t) and its variance σ²/Σ(1/h_t), so σ² cancels from the
 * weights and only these sums are kept. A slowdown that hits both versions in
 * the same bucket (load, a shared dependency, the time of day) adds nothing to
 * Δ̂, whatever the candidate's share of that bucket; pooling over the whole
 * rollout instead compared the candidate's recent requests with stable's older
 * ones whenever the share changed. σ² is the pooled within-bucket variance.
 */
export interface StratifiedMoments {
  /** Σ_t Δ_t / h_t and Σ_t 1/h_t over the buckets with both arms. */
  diffSum: number;
  weightSum: number;
  /** Σ over arm-buckets of Σ(ln v)² − (Σ ln v)²/n, and its degrees of freedom Σ(n − 1). */
  withinSS: number;
  withinDf: number;
  /** Requests of each arm in the buckets compared. */
  candidateN: number;
  stableN: number;
}

export function newStratifiedMoments(): StratifiedMoments {
  return { diffSum: 0, weightSum: 0, withinSS: 0, withinDf: 0, candidateN: 0, stableN: 0 };
}

/** Adds one bucket's arms; a bucket where an arm has no request carries no comparison and adds nothing. */
export function addBucketMoments(m: StratifiedMoments, c: LogMoments, b: LogMoments): void {
  if (c.n === 0 || b.n === 0) return;
  const h = 1 / c.n + 1 / b.n;
  m.diffSum += (c.sum / c.n - b.sum / b.n) / h;
  m.weightSum += 1 / h;
  m.withinSS += withinSS(c) + withinSS(b);
  m.withinDf += c.n - 1 + b.n - 1;
  m.candidateN += c.n;
  m.stableN += b.n;
}

function withinSS(arm: LogMoments): number {
  return Math.max(0, arm.sumSq - (arm.sum * arm.sum) / arm.n);
}

export interface MsprtResult {
  /** ln Λ of the two-sided normal mixture; the test fires only when `delta` > 0. */
  readonly logLambda: number;
  /** Δ̂ − ln(margin): the candidate's stratified mean log-latency excess over the tolerated one. */
  readonly delta: number;
  /** Ratio of geometric means, candidate over stable, compared within each bucket. */
  readonly ratio: number;
}

/**
 * The normal-mixture SPRT on the stratified estimate: Δ = Δ̂ − δ0, V = σ̂²/Σ(1/h_t),
 * ln Λ = ½·ln(V/(V + τ²)) + τ²Δ² / (2V(V + τ²)). Null until there is a
 * comparison with some spread.
 */
export function msprt(m: StratifiedMoments, tau: number, marginRatio: number): MsprtResult | null {
  if (m.weightSum <= 0 || m.withinDf < 1) return null;
  const variance = m.withinSS / m.withinDf;
  const v = variance / m.weightSum;
  if (!(v > 0)) return null;
  const estimate = m.diffSum / m.weightSum;
  const delta = estimate - Math.log(marginRatio);
  const tau2 = tau * tau;
  const logLambda = 0.5 * Math.log(v / (v + tau2)) + (tau2 * delta * delta) / (2 * v * (v + tau2));
  return { logLambda, delta, ratio: Math.exp(estimate) };
}
