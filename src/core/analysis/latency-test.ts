import { latencyValue } from './window.js';

/**
 * Latency tests (research/canary-statistics.md §2.2): exceedance counts at the
 * stable arm's p50/p90/p99 read from the log-bucketed histograms (§2.2A), and
 * the normal-mixture SPRT on mean log-latency (§2.2B).
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

/** n, Σ ln v and Σ (ln v)² of one arm. */
export interface LogMoments {
  n: number;
  sum: number;
  sumSq: number;
}

export interface MsprtResult {
  /** ln Λ of the two-sided normal mixture; the test fires only when `delta` > 0. */
  readonly logLambda: number;
  /** mean ln v_candidate − mean ln v_stable − ln(margin). */
  readonly delta: number;
  /** Ratio of geometric means, candidate over stable. */
  readonly ratio: number;
}

/**
 * §2.2B: Δ̂ = mean(ln v_c) − mean(ln v_b) − δ0, V = σ̂²(1/n_c + 1/n_b) with σ̂²
 * pooled, ln Λ = ½·ln(V/(V + τ²)) + τ²Δ̂² / (2V(V + τ²)). Null until both arms
 * have two observations and some spread.
 */
export function msprt(c: LogMoments, b: LogMoments, tau: number, marginRatio: number): MsprtResult | null {
  if (c.n < 2 || b.n < 2) return null;
  const meanC = c.sum / c.n;
  const meanB = b.sum / b.n;
  const ssC = Math.max(0, c.sumSq - c.sum * meanC);
  const ssB = Math.max(0, b.sumSq - b.sum * meanB);
  const variance = (ssC + ssB) / (c.n + b.n - 2);
  const v = variance * (1 / c.n + 1 / b.n);
  if (!(v > 0)) return null;
  const delta = meanC - meanB - Math.log(marginRatio);
  const tau2 = tau * tau;
  const logLambda = 0.5 * Math.log(v / (v + tau2)) + (tau2 * delta * delta) / (2 * v * (v + tau2));
  return { logLambda, delta, ratio: Math.exp(meanC - meanB) };
}
