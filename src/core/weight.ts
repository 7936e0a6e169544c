/** Weights are basis points (0..10000) inside; operators speak percent with two decimals. */
export const MAX_WEIGHT_BP = 10_000;

export function percentToBp(percent: number): number {
  return Math.round(percent * 100);
}

export function bpToPercent(weightBp: number): number {
  return weightBp / 100;
}

/** True when `percent` is a number in 0..100 with at most two decimals. */
export function isValidPercent(percent: number): boolean {
  if (!Number.isFinite(percent) || percent < 0 || percent > 100) return false;
  return Math.abs(percent * 100 - Math.round(percent * 100)) < 1e-6;
}
