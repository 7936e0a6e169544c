import { latencyValue, sketchKey, type ArmWindow } from '../analysis/window.js';
import type { Prediction, PredictionKind } from './prediction.js';

/**
 * The comparison of one mirrored pair (stable's and the shadow's answer to the
 * same request, both 2xx) and its window increment, recorded under the series
 * `shadow-cmp:<v>`. Comparison windows merge like any other (counters and
 * sketch keys add), so the figures read from many replicas' windows are those
 * of one window holding every pair.
 *
 * One pair adds to the window (docs/analysis.md, The statistics, paired):
 *   requests   1 (the pair)
 *   errors     1 when the answers disagree: different labels, or |Δ| > scoreTolerance
 *   for scores, Δ = shadow − stable, counters (ArmWindow.counters):
 *     dabs Σ|Δ|   dsum ΣΔ   dsq ΣΔ²   dzero pairs with |Δ| < ABS_DIFF_FLOOR
 *     sb0..sb9 / cb0..cb9  stable's / the shadow's score in 10 equal-width bins
 *                          over [0, 1]
 *     sb_below / cb_below  a score below 0, and sb_above / cb_above one above 1:
 *                          kept apart rather than folded into the end bins, so a
 *                          shadow answering impossible scores shows as a new
 *                          category that PSI and the bin-product test count fully
 *                          (windows written before these bins existed read as 0)
 *   latency    |Δ| itself (not milliseconds) in the latency sketch: the DDSketch key
 *              ceil(ln|Δ| / ln γ), relative error 2 %, when |Δ| ≥ ABS_DIFF_FLOOR;
 *              smaller differences (0 included) are counted in `dzero` instead,
 *              so a p95 |Δ| of 0 reads back as exactly 0. |Δ| < 1 has a negative
 *              key, which JavaScript keeps as a named property (a key of 300
 *              would make each window's map an array of 300 slots).
 * Labels add only `requests` and `errors`. logSum, logSqSum and failingKeys stay 0.
 */

/** Equal-width bins over [0, 1]. */
export const SCORE_BINS = 10;
/** Histogram slots after the in-range bins (which keep the indexes of sb0..sb9): a score below 0, one above 1. */
export const BELOW_RANGE_BIN = SCORE_BINS;
export const ABOVE_RANGE_BIN = SCORE_BINS + 1;
/** Slots of a score histogram: the in-range bins and the two out-of-range ones. */
export const HISTOGRAM_BINS = SCORE_BINS + 2;
/** |Δ| below this counts as no difference (dzero) rather than a sketch key. */
export const ABS_DIFF_FLOOR = 1e-8;

export const ABS_DIFF_SUM = 'dabs';
export const DIFF_SUM = 'dsum';
export const SQ_DIFF_SUM = 'dsq';
export const NO_DIFF = 'dzero';
export const stableBinCounter = (bin: number): string => `sb${binSuffix(bin)}`;
export const shadowBinCounter = (bin: number): string => `cb${binSuffix(bin)}`;

function binSuffix(bin: number): string {
  if (bin === BELOW_RANGE_BIN) return '_below';
  if (bin === ABOVE_RANGE_BIN) return '_above';
  return String(bin);
}

export type PairResult =
  | { readonly kind: 'label'; readonly disagree: boolean }
  | {
      readonly kind: 'score';
      readonly disagree: boolean;
      readonly stable: number;
      readonly shadow: number;
      /** shadow − stable. */
      readonly diff: number;
      readonly absDiff: number;
    };

/** Decimal scores are not exact in binary: |0.55 − 0.5| is 0.05000000000000004. Within this of the tolerance is within it. */
const ROUNDING_SLACK = 1e-12;

/**
 * Compares the two answers of a pair. Labels by their string form; scores
 * disagree when |Δ| > scoreTolerance. Null when a score is not a finite number.
 */
export function comparePair(stable: Prediction, shadow: Prediction, kind: PredictionKind, scoreTolerance: number): PairResult | null {
  if (kind === 'label') return { kind, disagree: String(stable) !== String(shadow) };
  if (typeof stable !== 'number' || typeof shadow !== 'number' || !Number.isFinite(stable) || !Number.isFinite(shadow)) return null;
  const diff = shadow - stable;
  const absDiff = Math.abs(diff);
  return { kind, disagree: absDiff - scoreTolerance > ROUNDING_SLACK, stable, shadow, diff, absDiff };
}

/** The histogram slot of a score: one of SCORE_BINS equal-width bins over [0, 1] (1 itself in the last), or an out-of-range bin. */
export function scoreBin(score: number): number {
  if (score < 0) return BELOW_RANGE_BIN;
  if (score > 1) return ABOVE_RANGE_BIN;
  return Math.min(SCORE_BINS - 1, Math.floor(score * SCORE_BINS));
}

/**
 * The window increment of one pair; zero counters are left out, as the Redis
 * store skips them. Built property by property: this runs per mirrored pair,
 * and object spreads are a slow path in V8.
 */
export function comparisonArm(pair: PairResult): ArmWindow {
  const latency: Record<string, number> = {};
  const arm = { requests: 1, errors: pair.disagree ? 1 : 0, failingKeys: 0, logSum: 0, logSqSum: 0, latency };
  if (pair.kind === 'label') return arm;
  const counters: Record<string, number> = {};
  add(counters, stableBinCounter(scoreBin(pair.stable)), 1);
  add(counters, shadowBinCounter(scoreBin(pair.shadow)), 1);
  add(counters, ABS_DIFF_SUM, pair.absDiff);
  add(counters, DIFF_SUM, pair.diff);
  add(counters, SQ_DIFF_SUM, pair.diff * pair.diff);
  if (pair.absDiff < ABS_DIFF_FLOOR) add(counters, NO_DIFF, 1);
  else latency[String(sketchKey(pair.absDiff))] = 1;
  return { requests: arm.requests, errors: arm.errors, failingKeys: 0, logSum: 0, logSqSum: 0, latency, counters };
}

function add(counters: Record<string, number>, name: string, value: number): void {
  if (value !== 0) counters[name] = (counters[name] ?? 0) + value;
}

export interface ComparisonSummary {
  readonly pairs: number;
  readonly disagreements: number;
  /** null without pairs. */
  readonly disagreementRate: number | null;
  /** The score figures are null for labels and without pairs. */
  readonly meanAbsDiff: number | null;
  /** Mean of shadow − stable: the shadow's average shift. */
  readonly meanDiff: number | null;
  /** √(mean Δ²). */
  readonly rmsDiff: number | null;
  /** Within the sketch's 2 % relative error; exactly 0 when at least 95 % of pairs had no difference. */
  readonly p95AbsDiff: number | null;
}

export function summariseComparison(arm: ArmWindow): ComparisonSummary {
  const pairs = arm.requests;
  const c = arm.counters ?? {};
  const zero = c[NO_DIFF] ?? 0;
  const keys = Object.keys(arm.latency).map(Number).sort((a, b) => a - b);
  const scored = keys.reduce((n, k) => n + (arm.latency[String(k)] ?? 0), zero);
  const perPair = (name: string) => (scored > 0 ? (c[name] ?? 0) / scored : null);
  const meanSq = perPair(SQ_DIFF_SUM);
  return {
    pairs,
    disagreements: arm.errors,
    disagreementRate: pairs > 0 ? arm.errors / pairs : null,
    meanAbsDiff: perPair(ABS_DIFF_SUM),
    meanDiff: perPair(DIFF_SUM),
    rmsDiff: meanSq === null ? null : Math.sqrt(Math.max(0, meanSq)),
    p95AbsDiff: scored > 0 ? absDiffQuantile(arm.latency, keys, zero, Math.ceil(0.95 * scored)) : null,
  };
}

/** The |Δ| of rank `rank` (1-based): the zeros first, then the sketch keys in ascending order. */
function absDiffQuantile(latency: Readonly<Record<string, number>>, sortedKeys: readonly number[], zero: number, rank: number): number {
  let seen = zero;
  if (seen >= rank) return 0;
  for (const key of sortedKeys) {
    seen += latency[String(key)] ?? 0;
    if (seen >= rank) return latencyValue(key);
  }
  return latencyValue(sortedKeys[sortedKeys.length - 1] ?? 0);
}

/** Stable's and the shadow's score histograms (HISTOGRAM_BINS counts each, indexed like scoreBin) of a comparison window. */
export function scoreHistograms(arm: ArmWindow): { stable: number[]; shadow: number[] } {
  const c = arm.counters ?? {};
  const bins = Array.from({ length: HISTOGRAM_BINS }, (_, k) => k);
  return { stable: bins.map((k) => c[stableBinCounter(k)] ?? 0), shadow: bins.map((k) => c[shadowBinCounter(k)] ?? 0) };
}

/**
 * The number of categories B of a pair of histograms, for PSI's noise floor and
 * critical value: the in-range bins always, an out-of-range bin only once
 * either side has a score in it. A bin neither side can reach adds nothing to
 * PSI, so counting it would only raise the floor; scorers that stay within
 * [0, 1] keep B = SCORE_BINS.
 */
export function histogramCategories(stable: readonly number[], shadow: readonly number[]): number {
  const used = (bin: number) => ((stable[bin] ?? 0) + (shadow[bin] ?? 0) > 0 ? 1 : 0);
  return SCORE_BINS + used(BELOW_RANGE_BIN) + used(ABOVE_RANGE_BIN);
}
