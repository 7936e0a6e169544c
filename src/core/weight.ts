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

/** What a weight must be, said of the field that holds it (`steps[0].weight: must be...`). */
export const WEIGHT_RULE = 'must be a percent 0..100 with at most two decimals';

/** What a shadow's share of sticky keys must be: mirroring none of them is stopping the shadow. */
export const SHADOW_PERCENT_RULE = 'must be a percent more than 0, at most 100, with at most two decimals';

/** True when `percent` is a valid share for a shadow: a percent above 0. */
export function isValidShadowPercent(percent: number): boolean {
  return isValidPercent(percent) && percent > 0;
}

/** True for a weight in basis points: a whole number 0..10000. */
export function isValidWeightBp(weightBp: number): boolean {
  return Number.isInteger(weightBp) && weightBp >= 0 && weightBp <= MAX_WEIGHT_BP;
}

/** True for a shadow's share in basis points: a whole number 1..10000. */
export function isValidShadowBp(sampleBp: number): boolean {
  return Number.isInteger(sampleBp) && sampleBp >= 1 && sampleBp <= MAX_WEIGHT_BP;
}
