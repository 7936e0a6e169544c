import { addEvents, logEvidence, logMeanExp, newGridProcess, type GridProcess } from '../analysis/e-process.js';
import { sumArms, type ArmWindow } from '../analysis/window.js';
import { SwitchyardError } from '../errors.js';
import { ABOVE_RANGE_BIN, BELOW_RANGE_BIN, HISTOGRAM_BINS, histogramCategories, scoreHistograms, summariseComparison } from './comparison.js';
import { binProductLogE, psi, psiCritical, psiNoiseFloor } from './distribution.js';
import { DEFAULT_DRIFT_CONFIG, validateDriftConfig, type DriftConfig } from './drift-config.js';
import { driftReason } from './drift-reason.js';
import type { PredictionKind } from './prediction.js';
import { wilsonInterval } from './stats.js';

export { DEFAULT_DRIFT_CONFIG, validateDriftConfig, type DriftAction, type DriftConfig } from './drift-config.js';

/**
 * Prediction drift of a shadow version, judged on mirrored pairs: stable and
 * the shadow answering the same requests (docs/analysis.md, The statistics,
 * last point: paired comparison is far more powerful than comparing marginals).
 *
 * - Paired disagreement, one-sided: H0 "the shadow disagrees with stable on at
 *   most maxDisagreement p0 of pairs". Each pair is a Bernoulli(p) event, so
 *   the errors' grid-mixture likelihood ratio (src/core/analysis/e-process.ts)
 *   applies unchanged with ρ = p0: θ(p0, r) = p0·r / (p0·r + 1 − p0) is the
 *   disagreement rate whose odds are r times p0's, and for every p ≤ p0 the
 *   mixture is a super-martingale. Grid: the errors' odds ratios; it counts
 *   only from 5 disagreements (the errors' guard), which can only lower the
 *   false-flag rate.
 * - Scores also get "equality in distribution", the bin-product e-process on the
 *   paired score histograms (distribution.ts, w = ½; scores outside [0, 1] in
 *   bins of their own, comparison.ts), averaged with the
 *   disagreement e-process.
 * - Flagged when the evidence reached 1/α after any bucket so far (Ville: at
 *   most α of shadows that meet H0 are ever flagged, however often one looks).
 * - PSI with its noise floor and critical value is the effect size, not
 *   a trigger: checked at every look it would raise false alarms.
 *
 * Policy: drift flags or holds; `rollback` is true only when the action
 * is 'rollback' and, besides the sequential test, the effect is large: for
 * scores PSI > psiTolerance once the sample is big enough for that tolerance
 * (PSI_α(n) ≤ psiTolerance / 2); for labels an observed disagreement rate
 * above twice maxDisagreement.
 * Pairs are taken as independent: a client repeating one input repeats its
 * disagreement, which counts more than once (no sticky-key deduplication here).
 */

export interface DriftResult {
  readonly flagged: boolean;
  readonly rollback: boolean;
  /** One line for an operator, with the effect size. */
  readonly reason: string;
  /**
   * pairs, disagreements, disagreementRate, disagreementLow/High (Wilson 95 %),
   * eValue (largest evidence after any bucket, the one compared with
   * evidenceThreshold; capped at the largest double), logEValue,
   * disagreementEValue; for scores also meanAbsDiff, meanDiff, rmsDiff,
   * p95AbsDiff, distributionEValue, psi, psiNoiseFloor, psiCritical,
   * psiBins (B: the in-range bins and each out-of-range bin in use),
   * stableOutOfRange and shadowOutOfRange (each side's share of scores
   * outside [0, 1]).
   */
  readonly figures: Readonly<Record<string, number>>;
}

const DISAGREEMENT_ODDS_GRID: readonly number[] = [1.25, 1.5, 2, 3, 5, 10, 20];
const MIN_DISAGREEMENTS = 5;
const Z95 = 1.959963984540054;

/** Judges the `shadow-cmp` windows of every settled bucket since the shadow started, oldest first. */
export function analyseDrift(buckets: readonly ArmWindow[], kind: PredictionKind, config: DriftConfig = DEFAULT_DRIFT_CONFIG): DriftResult {
  const problems = validateDriftConfig(config);
  if (problems.length > 0) throw new SwitchyardError('SY_ERR_CONFIG', `invalid drift config: ${problems.join('; ')}`, { problems });
  const summary = summariseComparison(sumArms(buckets));
  if (summary.pairs === 0) {
    return { flagged: false, rollback: false, reason: 'no paired predictions from the shadow yet: drift not judged', figures: { pairs: 0 } };
  }
  const e = foldEvidence(buckets, kind, config);
  const threshold = 1 / config.alpha;
  const flagged = e.peakLog >= Math.log(threshold);
  const ci = wilsonInterval(summary.disagreements, summary.pairs, Z95);
  const figures: Record<string, number> = {};
  const put = (name: string, value: number | null) => {
    if (value !== null && Number.isFinite(value)) figures[name] = value;
  };
  put('pairs', summary.pairs);
  put('disagreements', summary.disagreements);
  put('disagreementRate', summary.disagreementRate);
  put('disagreementLow', ci.low);
  put('disagreementHigh', ci.high);
  put('eValue', finite(Math.exp(e.peakLog)));
  put('logEValue', e.peakLog);
  put('evidenceThreshold', threshold);
  put('disagreementEValue', finite(Math.exp(logEvidence(e.disagreement))));
  let largeEffect = (summary.disagreementRate ?? 0) > 2 * config.maxDisagreement;
  if (kind === 'score') {
    const nb = e.stableBins.reduce((a, b) => a + b, 0);
    const nc = e.shadowBins.reduce((a, b) => a + b, 0);
    const shift = psi(e.stableBins, e.shadowBins);
    const bins = histogramCategories(e.stableBins, e.shadowBins);
    const critical = shift === null ? null : psiCritical(bins, nb, nc, config.alpha);
    put('meanAbsDiff', summary.meanAbsDiff);
    put('meanDiff', summary.meanDiff);
    put('rmsDiff', summary.rmsDiff);
    put('p95AbsDiff', summary.p95AbsDiff);
    put('distributionEValue', finite(Math.exp(e.distributionLog)));
    put('psi', shift);
    put('psiNoiseFloor', shift === null ? null : psiNoiseFloor(bins, nb, nc));
    put('psiCritical', critical);
    put('psiBins', bins);
    put('stableOutOfRange', outOfRangeShare(e.stableBins, nb));
    put('shadowOutOfRange', outOfRangeShare(e.shadowBins, nc));
    largeEffect = shift !== null && critical !== null && shift > config.psiTolerance && critical <= config.psiTolerance / 2;
  }
  const rollback = config.action === 'rollback' && flagged && largeEffect;
  const leader = kind === 'score' && e.distributionLog > e.disagreementLog ? 'distribution' : 'disagreement';
  return { flagged, rollback, reason: driftReason({ kind, config, figures, flagged, rollback, leader }), figures };
}

interface Evidence {
  readonly disagreement: GridProcess;
  readonly stableBins: number[];
  readonly shadowBins: number[];
  /** ln E now of each test: the disagreement one −∞ until its guard is met. */
  disagreementLog: number;
  distributionLog: number;
  /** The largest ln E of the combined evidence after any bucket. */
  peakLog: number;
}

/** Folds the buckets oldest first, taking the peak of the evidence after each one. */
function foldEvidence(buckets: readonly ArmWindow[], kind: PredictionKind, config: DriftConfig): Evidence {
  const e: Evidence = {
    disagreement: newGridProcess(DISAGREEMENT_ODDS_GRID, 1),
    stableBins: new Array<number>(HISTOGRAM_BINS).fill(0),
    shadowBins: new Array<number>(HISTOGRAM_BINS).fill(0),
    disagreementLog: -Infinity,
    distributionLog: -Infinity,
    peakLog: -Infinity,
  };
  for (const arm of buckets) {
    addEvents(e.disagreement, config.maxDisagreement, arm.errors, arm.requests - arm.errors);
    e.disagreementLog = e.disagreement.candidateEvents >= MIN_DISAGREEMENTS ? logEvidence(e.disagreement) : -Infinity;
    if (kind === 'score') {
      const h = scoreHistograms(arm);
      for (let k = 0; k < HISTOGRAM_BINS; k++) {
        e.stableBins[k] = (e.stableBins[k] as number) + (h.stable[k] as number);
        e.shadowBins[k] = (e.shadowBins[k] as number) + (h.shadow[k] as number);
      }
      e.distributionLog = binProductLogE(e.stableBins, e.shadowBins);
    }
    e.peakLog = Math.max(e.peakLog, kind === 'score' ? logMeanExp([e.disagreementLog, e.distributionLog]) : e.disagreementLog);
  }
  return e;
}

/** The share of a histogram's scores outside [0, 1]; null when it is empty. */
function outOfRangeShare(bins: readonly number[], n: number): number | null {
  return n > 0 ? ((bins[BELOW_RANGE_BIN] ?? 0) + (bins[ABOVE_RANGE_BIN] ?? 0)) / n : null;
}

/** Evidence can overflow a double; the figures show the largest finite value instead. */
function finite(x: number): number {
  return Number.isFinite(x) ? x : Number.MAX_VALUE;
}
