/** Summary statistics for the detector bench. */

/** Wilson score interval for k successes in n trials (95 % by default). */
export function wilson(k: number, n: number, z = 1.96): { low: number; high: number } {
  if (n === 0) return { low: 0, high: 1 };
  const p = k / n;
  const denom = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / denom;
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

/**
 * The q-quantile of detection times where a miss (null) counts as +∞, so a
 * median past the horizon reads as "not within the horizon" rather than
 * flattering the detector by dropping its misses.
 */
export function censoredQuantile(times: readonly (number | null)[], q: number): number | null {
  if (times.length === 0) return null;
  const sorted = times.map((t) => t ?? Infinity).sort((a, b) => a - b);
  const v = sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] as number;
  return Number.isFinite(v) ? v : null;
}
