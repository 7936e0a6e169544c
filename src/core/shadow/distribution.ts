import { chiSquareUpperQuantile, lnBeta } from './stats.js';

/**
 * Do the shadow's scores follow stable's distribution? Two views of the paired
 * score histograms (docs/analysis.md, The statistics), computed from the
 * cumulative bin counts:
 *
 * - PSI = Σ_k (c_k − b_k)·ln(c_k / b_k) on proportions, an empty bin taken as
 *   EMPTY_BIN_SHARE. An effect size, reported against its noise floor
 *   (B − 1)(1/n_c + 1/n_b) and its critical value χ²_{B−1, 1−α}(1/n_c + 1/n_b)
 *   (Yurdakul 2018). Paired samples are positively correlated, which only makes
 *   PSI smaller under the null, so both are conservative here. B is the number
 *   of categories in play (comparison.ts: histogramCategories), the
 *   out-of-range bins only once a score fell in them.
 * - The bin-product e-process: E = Π_k BF_k with the Beta-binomial Bayes factor
 *   BF_k = [B(a + X_k, b + N_k − X_k) / B(a, b)] / [w^X_k (1 − w)^(N_k − X_k)],
 *   X_k the shadow's count in bin k, N_k both sides' count, a = 100w,
 *   b = 100(1 − w). A pair puts one score on each side, so w = ½.
 *   Caveat: within a pair the two labels are not independent Bernoulli(½) draws
 *   across bins (a pair split over bins i and j labels both), so the product is
 *   a martingale only approximately; the A/A simulation in
 *   test/unit/shadow-drift.test.ts bounds what that costs.
 */

/** Share an empty bin is given, so ln(c/b) stays finite. */
export const EMPTY_BIN_SHARE = 1e-4;
const PRIOR_STRENGTH = 100;
const W = 0.5;

function total(counts: readonly number[]): number {
  return counts.reduce((a, b) => a + b, 0);
}

/** PSI of the shadow's histogram against stable's; null when one side is empty. */
export function psi(stable: readonly number[], shadow: readonly number[]): number | null {
  const nb = total(stable);
  const nc = total(shadow);
  if (nb === 0 || nc === 0) return null;
  let sum = 0;
  for (let k = 0; k < stable.length; k++) {
    const b = Math.max((stable[k] as number) / nb, EMPTY_BIN_SHARE);
    const c = Math.max((shadow[k] ?? 0) / nc, EMPTY_BIN_SHARE);
    sum += (c - b) * Math.log(c / b);
  }
  return sum;
}

/** E[PSI] under the null, (B − 1)(1/n_c + 1/n_b). */
export function psiNoiseFloor(bins: number, nStable: number, nShadow: number): number {
  return (bins - 1) * (1 / nShadow + 1 / nStable);
}

/** PSI_α = χ²_{B−1, 1−α}(1/n_c + 1/n_b): what PSI exceeds with probability α under the null (fixed n). */
export function psiCritical(bins: number, nStable: number, nShadow: number, alpha: number): number {
  return chiSquareUpperQuantile(bins - 1, alpha) * (1 / nShadow + 1 / nStable);
}

/** ln E of the bin-product e-process on the cumulative histograms. */
export function binProductLogE(stable: readonly number[], shadow: readonly number[]): number {
  const a = PRIOR_STRENGTH * W;
  const b = PRIOR_STRENGTH * (1 - W);
  const lnW = Math.log(W);
  const lnU = Math.log(1 - W);
  const lnPrior = lnBeta(a, b);
  let sum = 0;
  for (let k = 0; k < stable.length; k++) {
    const x = shadow[k] ?? 0;
    const n = x + (stable[k] as number);
    if (n === 0) continue;
    sum += lnBeta(a + x, b + n - x) - lnPrior - x * lnW - (n - x) * lnU;
  }
  return sum;
}
