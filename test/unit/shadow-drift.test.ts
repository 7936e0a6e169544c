import { describe, expect, test } from 'vitest';
import { Rng } from '../../bench/detector-lib/rng.js';
import { EMPTY_ARM, sumArms, type ArmWindow } from '../../src/core/analysis/window.js';
import { comparePair, comparisonArm } from '../../src/core/shadow/comparison.js';
import { analyseDrift, DEFAULT_DRIFT_CONFIG, type DriftConfig } from '../../src/core/shadow/drift.js';

const PAIRS_PER_BUCKET = 10;

/** A bucket of label pairs: what comparisonArm's windows of `pairs` pairs with `disagreements` among them add up to. */
function labelBucket(pairs: number, disagreements: number): ArmWindow {
  return { ...EMPTY_ARM, requests: pairs, errors: disagreements };
}

/** `buckets` buckets of label pairs, each disagreeing with probability `rate`. */
function labelStream(rng: Rng, rate: number, buckets: number): ArmWindow[] {
  return Array.from({ length: buckets }, () => {
    let x = 0;
    for (let i = 0; i < PAIRS_PER_BUCKET; i++) if (rng.float() < rate) x++;
    return labelBucket(PAIRS_PER_BUCKET, x);
  });
}

/** Beta(2, 5), a skewed score distribution on [0, 1] like many classifiers' outputs: G2 / (G2 + G5), Gk a sum of k unit exponentials. */
function beta25(rng: Rng): number {
  const exp = () => -Math.log(1 - rng.float());
  const g2 = exp() + exp();
  return g2 / (g2 + exp() + exp() + exp() + exp() + exp());
}

const clamp = (v: number) => Math.min(1, Math.max(0, v));

/**
 * Score pairs through comparisonArm: stable and the shadow each see the input's true score plus their own noise.
 * `aboveRange` of the shadow's answers are its score + 1: impossible, as from a broken model.
 */
function scoreStream(rng: Rng, buckets: number, shadowOf: (z: number, rng: Rng) => number, noise: number, perBucket = PAIRS_PER_BUCKET, aboveRange = 0): ArmWindow[] {
  return Array.from({ length: buckets }, () => {
    const arms: ArmWindow[] = [];
    for (let i = 0; i < perBucket; i++) {
      const z = beta25(rng);
      const stable = clamp(z + noise * rng.normal());
      const shadow = clamp(shadowOf(z, rng) + noise * rng.normal());
      // No draw without out-of-range answers, so the other tests' seeded streams stay as they were.
      const broken = aboveRange > 0 && rng.float() < aboveRange;
      const pair = comparePair(stable, broken ? shadow + 1 : shadow, 'score', DEFAULT_DRIFT_CONFIG.scoreTolerance);
      if (pair !== null) arms.push(comparisonArm(pair));
    }
    return sumArms(arms);
  });
}

/** Pairs seen when the drift was first flagged, or null: flagging is monotone in the prefix (the peak only grows). */
function pairsToFlag(buckets: readonly ArmWindow[], kind: 'label' | 'score', config: DriftConfig = DEFAULT_DRIFT_CONFIG): number | null {
  if (!analyseDrift(buckets, kind, config).flagged) return null;
  let lo = 1;
  let hi = buckets.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (analyseDrift(buckets.slice(0, mid), kind, config).flagged) hi = mid;
    else lo = mid + 1;
  }
  return lo * PAIRS_PER_BUCKET;
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
}

describe('prediction drift: no data', () => {
  test('is not flagged and says so', () => {
    for (const buckets of [[], [EMPTY_ARM, EMPTY_ARM]]) {
      const r = analyseDrift(buckets, 'score');
      expect(r).toEqual({ flagged: false, rollback: false, reason: expect.stringMatching(/no paired predictions/), figures: { pairs: 0 } });
    }
  });

  test('a bad config is refused with every problem named', () => {
    const bad = { ...DEFAULT_DRIFT_CONFIG, alpha: 0, maxDisagreement: 1 };
    expect(() => analyseDrift([], 'label', bad)).toThrow(expect.objectContaining({ code: 'SY_ERR_CONFIG', message: expect.stringMatching(/alpha.*maxDisagreement/) }));
  });
});

describe('prediction drift: A/A (shadows that meet H0 are rarely flagged)', () => {
  test('labels disagreeing at exactly the tolerated 5 %, 500 seeded runs of 5000 pairs', () => {
    let flagged = 0;
    for (let seed = 1; seed <= 500; seed++) if (analyseDrift(labelStream(new Rng(seed), 0.05, 500), 'label').flagged) flagged++;
    console.info(`A/A labels at the 5 % boundary: ${flagged}/500 flagged`);
    expect(flagged / 500).toBeLessThanOrEqual(0.02);
  });

  test('scores of two identically distributed noisy predictors, 500 seeded runs of 2000 pairs', { timeout: 60_000 }, () => {
    let flagged = 0;
    // Noise σ = 0.015 per side: |Δ| > 0.05 on about 1.8 % of pairs; the score distributions are equal. 40 buckets of 50 pairs.
    for (let seed = 1; seed <= 500; seed++) if (analyseDrift(scoreStream(new Rng(seed), 40, (z) => z, 0.015, 50), 'score').flagged) flagged++;
    console.info(`A/A scores: ${flagged}/500 flagged`);
    expect(flagged / 500).toBeLessThanOrEqual(0.02);
  });
});

describe('prediction drift: shifts are flagged', () => {
  test('labels disagreeing on 20 % of pairs against 5 % tolerated are flagged within 300 pairs', () => {
    const needed = Array.from({ length: 200 }, (_, i) => pairsToFlag(labelStream(new Rng(1000 + i), 0.2, 100), 'label') ?? Infinity);
    console.info(`labels 20 % vs 5 %: pairs to flag median ${quantile(needed, 0.5)}, p90 ${quantile(needed, 0.9)}, max ${Math.max(...needed)}`);
    expect(quantile(needed, 0.99)).toBeLessThanOrEqual(300);
  });

  test('a shadow off by 0.1 on 20 % of inputs is flagged within 500 pairs', () => {
    const shadow = (z: number, rng: Rng) => (rng.float() < 0.2 ? z + 0.1 : z);
    const needed = Array.from({ length: 100 }, (_, i) => pairsToFlag(scoreStream(new Rng(2000 + i), 100, shadow, 0.005), 'score') ?? Infinity);
    console.info(`scores, 20 % off by 0.1: pairs to flag median ${quantile(needed, 0.5)}, p90 ${quantile(needed, 0.9)}`);
    expect(quantile(needed, 0.99)).toBeLessThanOrEqual(500);
  });

  test('a small systematic shift (+0.02, within the score tolerance for nearly every pair) is found by the score-distribution test', () => {
    const r = analyseDrift(scoreStream(new Rng(3000), 300, (z) => z + 0.02, 0.005), 'score');
    expect(r.flagged).toBe(true);
    expect(r.figures.disagreementRate).toBeLessThan(DEFAULT_DRIFT_CONFIG.maxDisagreement);
    expect(r.figures.meanDiff).toBeCloseTo(0.02, 3);
    expect(r.figures.psi).toBeGreaterThan(r.figures.psiCritical as number);
    expect(r.reason).toMatch(/mean shift \+0\.02.*led by the score distributions/);
  });

  test('a shadow answering 15 % of its scores above 1, otherwise identical to stable, is flagged with a large PSI and rolled back when asked to', () => {
    const rollback = { ...DEFAULT_DRIFT_CONFIG, action: 'rollback' as const };
    const broken = scoreStream(new Rng(3100), 100, (z) => z, 0.005, PAIRS_PER_BUCKET, 0.15);
    const r = analyseDrift(broken, 'score', rollback);
    expect(r).toMatchObject({ flagged: true, rollback: true });
    expect(r.figures.shadowOutOfRange).toBeGreaterThan(0.12);
    expect(r.figures.shadowOutOfRange).toBeLessThan(0.18);
    expect(r.figures.stableOutOfRange).toBe(0);
    // The out-of-range bin is a category of its own: B = 11, and its share counts fully, far above the rollback bar.
    expect(r.figures.psiBins).toBe(11);
    expect(r.figures.psi).toBeGreaterThan(4 * rollback.psiTolerance);
    expect(r.figures.psiNoiseFloor).toBeCloseTo(10 * (2 / 1000), 12);
    expect(r.reason).toMatch(/scores outside \[0, 1\]: shadow 1\d\.\d%, stable 0\.0%; PSI /);
  });
});

describe('prediction drift: figures, reason and policy', () => {
  test('reports the disagreement rate with its interval and evidence in one line', () => {
    const r = analyseDrift([labelBucket(500, 100), labelBucket(500, 84)], 'label');
    expect(r.flagged).toBe(true);
    expect(r.figures).toMatchObject({ pairs: 1000, disagreements: 184, disagreementRate: 0.184, evidenceThreshold: 100 });
    expect(r.figures.disagreementLow).toBeCloseTo(0.161, 3);
    expect(r.figures.disagreementHigh).toBeCloseTo(0.209, 3);
    expect(r.reason).toMatch(/^prediction drift \(hold\): shadow disagrees with stable on 18\.4% of 1,000 pairs \(95% CI 16\.1%–20\.9%, tolerated 5\.0%\); evidence \S+ ≥ 100$/);
    expect(r.reason).not.toMatch(/\n/);
  });

  test('PSI, its noise floor and critical value for paired score histograms', () => {
    const counters = (stable: number[], shadow: number[]) => Object.fromEntries([...stable.map((n, k) => [`sb${k}`, n]), ...shadow.map((n, k) => [`cb${k}`, n])].filter(([, n]) => n !== 0));
    const arm: ArmWindow = { ...EMPTY_ARM, requests: 100, errors: 3, counters: counters([10, 20, 30, 20, 10, 5, 3, 1, 1, 0], [5, 15, 25, 25, 15, 7, 4, 2, 1, 1]) };
    const r = analyseDrift([arm], 'score');
    expect(r.figures.psi).toBeCloseTo(0.151717, 6);
    expect(r.figures.psiNoiseFloor).toBeCloseTo(0.18, 12);
    expect(r.figures.psiCritical).toBeCloseTo(0.4333, 2);
    expect(r.reason).toMatch(/PSI 0\.15 \(noise floor 0\.18, critical 0\.43, major above 0\.25\)/);
    // A window of only in-range bins (as every window written before the out-of-range bins) keeps B = 10 and says nothing of them.
    expect(r.figures).toMatchObject({ psiBins: 10, stableOutOfRange: 0, shadowOutOfRange: 0 });
    expect(r.reason).not.toMatch(/outside/);
  });

  test('labels roll back only when asked to and the rate is above twice the tolerance', () => {
    const rollback = { ...DEFAULT_DRIFT_CONFIG, action: 'rollback' as const };
    const severe = labelStream(new Rng(4000), 0.4, 50);
    expect(analyseDrift(severe, 'label')).toMatchObject({ flagged: true, rollback: false });
    expect(analyseDrift(severe, 'label', rollback)).toMatchObject({ flagged: true, rollback: true, reason: expect.stringMatching(/^prediction drift \(rollback\)/) });
    const mild = labelStream(new Rng(4001), 0.08, 2_000);
    expect(analyseDrift(mild, 'label', rollback)).toMatchObject({ flagged: true, rollback: false, reason: expect.stringMatching(/below the rollback bar/) });
  });

  test('scores roll back only when asked to, a sequential test crossed and PSI is above its tolerance with enough pairs', () => {
    const rollback = { ...DEFAULT_DRIFT_CONFIG, action: 'rollback' as const };
    const inverted = scoreStream(new Rng(5000), 100, (z) => 1 - z, 0.01);
    const r = analyseDrift(inverted, 'score', rollback);
    expect(r.figures.psi).toBeGreaterThan(0.25);
    expect(r).toMatchObject({ flagged: true, rollback: true });
    expect(analyseDrift(inverted.slice(0, 3), 'score', rollback)).toMatchObject({ flagged: true, rollback: false });
    const shifted = scoreStream(new Rng(5001), 300, (z) => z + 0.03, 0.01);
    expect(analyseDrift(shifted, 'score', rollback)).toMatchObject({ flagged: true, rollback: false });
  });
});
