import type { AnalysisConfig } from './config.js';
import { recentBuckets, type AnalysisBucket } from './input.js';

/**
 * Sample-ratio check: does the candidate's share of requests match its weight?
 * A fixed-n two-sided z-test (χ² with 1 df) over a trailing window, at a strict
 * α (default 1e-6) and only beyond a relative tolerance (default 20 %). It holds
 * the rollout, never fails it, so repeated looks cost only delays; the strict α
 * keeps those rare, and the tolerance absorbs the over-dispersion of sticky
 * routing, where requests of one user all land on one arm.
 */
export interface SampleRatio {
  readonly requests: number;
  readonly candidateRequests: number;
  readonly expectedShare: number | null;
  readonly observedShare: number | null;
  /** Two-sided p-value, or null when the window is too small to judge. */
  readonly pValue: number | null;
  /** Largest |observed / expected − 1| over the arms with enough expected requests. */
  readonly deviation: number | null;
  readonly mismatch: boolean;
}

export function sampleRatio(
  buckets: ReadonlyArray<AnalysisBucket>,
  weightBp: number,
  weightSinceMs: number | undefined,
  config: AnalysisConfig,
): SampleRatio {
  let requests = 0, candidate = 0, expected = 0, variance = 0;
  for (const b of recentBuckets(buckets, config.srmWindowMs, weightSinceMs)) {
    const n = b.candidate.requests + b.stable.requests;
    const share = (b.weightBp ?? weightBp) / 10_000;
    requests += n;
    candidate += b.candidate.requests;
    expected += n * share;
    variance += n * share * (1 - share);
  }
  const sides = [
    { observed: candidate, expected },
    { observed: requests - candidate, expected: requests - expected },
  ].filter((s) => s.expected >= config.srmMinExpected);
  const deviation = sides.length === 0 ? null : Math.max(...sides.map((s) => Math.abs(s.observed / s.expected - 1)));
  const pValue = deviation === null || !(variance > 0) ? null : normalTwoSided((candidate - expected) / Math.sqrt(variance));
  return {
    requests,
    candidateRequests: candidate,
    expectedShare: requests > 0 ? expected / requests : null,
    observedShare: requests > 0 ? candidate / requests : null,
    pValue,
    deviation,
    mismatch: pValue !== null && deviation !== null && pValue < config.srmAlpha && deviation >= config.srmTolerance,
  };
}

/** P(|Z| ≥ |z|) = erfc(|z|/√2). */
export function normalTwoSided(z: number): number {
  return erfc(Math.abs(z) / Math.SQRT2);
}

/** Complementary error function, Chebyshev fit with relative error < 1.2e-7 (Numerical Recipes `erfcc`). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const r = t * Math.exp(-z * z + poly);
  return x >= 0 ? r : 2 - r;
}
