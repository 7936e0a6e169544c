import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { Rng } from '../../bench/detector-lib/rng.js';
import { checkCounters, COUNTER_NAME, EMPTY_ARM, mergeArms, sketchKey, sumArms, type ArmWindow } from '../../src/core/analysis/window.js';
import {
  ABOVE_RANGE_BIN,
  BELOW_RANGE_BIN,
  comparePair,
  comparisonArm,
  HISTOGRAM_BINS,
  histogramCategories,
  SCORE_BINS,
  scoreBin,
  scoreHistograms,
  shadowBinCounter,
  stableBinCounter,
  summariseComparison,
  type PairResult,
} from '../../src/core/shadow/comparison.js';
import { analyseDrift } from '../../src/core/shadow/drift.js';

function scorePair(stable: number, shadow: number, tolerance = 0.05): PairResult {
  const pair = comparePair(stable, shadow, 'score', tolerance);
  if (pair === null) throw new Error('not comparable');
  return pair;
}

const mergeAll = (arms: readonly ArmWindow[]) => arms.reduce(mergeArms, EMPTY_ARM);

describe('comparing one pair', () => {
  test('labels disagree when their string forms differ', () => {
    expect(comparePair('fraud', 'fraud', 'label', 0)).toEqual({ kind: 'label', disagree: false });
    expect(comparePair('fraud', 'ok', 'label', 0)).toEqual({ kind: 'label', disagree: true });
    expect(comparePair(1, '1', 'label', 0)).toEqual({ kind: 'label', disagree: false });
  });

  test('scores disagree when |shadow − stable| exceeds the tolerance, and are not compared unless finite numbers', () => {
    expect(scorePair(0.3, 0.42)).toMatchObject({ disagree: true, diff: expect.closeTo(0.12, 12), absDiff: expect.closeTo(0.12, 12) });
    expect(scorePair(0.42, 0.3)).toMatchObject({ disagree: true, diff: expect.closeTo(-0.12, 12) });
    expect(scorePair(0.5, 0.55, 0.05).disagree).toBe(false);
    expect(scorePair(0.5, 0.5500001, 0.05).disagree).toBe(true);
    expect(scorePair(0.5, 0.5, 0).disagree).toBe(false);
    expect(comparePair('0.5', 0.5, 'score', 0.05)).toBeNull();
    expect(comparePair(0.5, Number.NaN, 'score', 0.05)).toBeNull();
  });

  test('bins scores in tenths of [0, 1], 1 itself in the last', () => {
    expect([0, 0.099, 0.1, 0.55, 0.999, 1].map(scoreBin)).toEqual([0, 0, 1, 5, 9, 9]);
  });

  test('keeps scores below 0 and above 1 in bins of their own instead of the end bins', () => {
    expect([-3, -1e-9].map(scoreBin)).toEqual([BELOW_RANGE_BIN, BELOW_RANGE_BIN]);
    expect([1 + 1e-9, 1.2, 7].map(scoreBin)).toEqual([ABOVE_RANGE_BIN, ABOVE_RANGE_BIN, ABOVE_RANGE_BIN]);
  });
});

describe('the window of one pair', () => {
  test('a label pair adds a request and, when they disagree, an error; nothing else', () => {
    expect(comparisonArm({ kind: 'label', disagree: true })).toEqual({ requests: 1, errors: 1, failingKeys: 0, logSum: 0, logSqSum: 0, latency: {} });
    expect(summariseComparison(comparisonArm({ kind: 'label', disagree: false }))).toEqual({
      pairs: 1, disagreements: 0, disagreementRate: 0, meanAbsDiff: null, meanDiff: null, rmsDiff: null, p95AbsDiff: null,
    });
  });

  test('a score pair adds its differences, both bins and |Δ| to the sketch', () => {
    const arm = comparisonArm(scorePair(0.3, 0.425));
    expect(arm).toMatchObject({ requests: 1, errors: 1, latency: { [String(sketchKey(0.125))]: 1 } });
    expect(arm.counters).toEqual({ sb3: 1, cb4: 1, dabs: expect.closeTo(0.125, 12), dsum: expect.closeTo(0.125, 12), dsq: expect.closeTo(0.015625, 12) });
  });

  test('an out-of-range score is counted in its own bin, under a name a store accepts', () => {
    expect(comparisonArm(scorePair(0.4, 1.2)).counters).toMatchObject({ sb4: 1, cb_above: 1 });
    expect(comparisonArm(scorePair(-0.1, 0.05)).counters).toMatchObject({ sb_below: 1, cb0: 1 });
    const names = Array.from({ length: HISTOGRAM_BINS }, (_, k) => [stableBinCounter(k), shadowBinCounter(k)]).flat();
    expect(new Set(names).size).toBe(2 * HISTOGRAM_BINS);
    expect(names.every((n) => COUNTER_NAME.test(n))).toBe(true);
    const arm = mergeAll([scorePair(-2, 3), scorePair(5, -4)].map(comparisonArm));
    expect(() => checkCounters({ service: 's', version: 'shadow-cmp:v2', bucketMs: 0, arm })).not.toThrow();
    const h = scoreHistograms(arm);
    expect([h.stable[BELOW_RANGE_BIN], h.stable[ABOVE_RANGE_BIN], h.shadow[BELOW_RANGE_BIN], h.shadow[ABOVE_RANGE_BIN]]).toEqual([1, 1, 1, 1]);
  });

  test('an exact match counts as no difference, outside the sketch, so its |Δ| reads back as 0', () => {
    const arm = comparisonArm(scorePair(0.7, 0.7));
    expect(arm.counters).toEqual({ sb7: 1, cb7: 1, dzero: 1 });
    expect(arm.latency).toEqual({});
    expect(summariseComparison(arm)).toMatchObject({ meanAbsDiff: 0, p95AbsDiff: 0, rmsDiff: 0 });
  });

  test('sums many pairs into counts, means and a p95 |Δ| within the sketch’s 2 %', () => {
    // 100 pairs: 90 with Δ = 0, 5 with Δ = +0.01, 4 with Δ = −0.2, 1 with Δ = +0.5.
    const pairs = [
      ...Array.from({ length: 90 }, () => scorePair(0.2, 0.2)),
      ...Array.from({ length: 5 }, () => scorePair(0.2, 0.21)),
      ...Array.from({ length: 4 }, () => scorePair(0.6, 0.4)),
      scorePair(0.4, 0.9),
    ];
    const s = summariseComparison(mergeAll(pairs.map(comparisonArm)));
    expect(s.pairs).toBe(100);
    expect(s.disagreements).toBe(5);
    expect(s.disagreementRate).toBe(0.05);
    expect(s.meanAbsDiff).toBeCloseTo((5 * 0.01 + 4 * 0.2 + 0.5) / 100, 12);
    expect(s.meanDiff).toBeCloseTo((5 * 0.01 - 4 * 0.2 + 0.5) / 100, 12);
    expect(s.rmsDiff).toBeCloseTo(Math.sqrt((5 * 0.0001 + 4 * 0.04 + 0.25) / 100), 12);
    // Rank ⌈0.95 · 100⌉ = 95 is the last of the five 0.01 differences.
    expect(s.p95AbsDiff).toBeGreaterThan(0.01 * 0.98);
    expect(s.p95AbsDiff).toBeLessThan(0.01 * 1.02);
    const h = scoreHistograms(mergeAll(pairs.map(comparisonArm)));
    expect(h.stable).toEqual([0, 0, 95, 0, 1, 0, 4, 0, 0, 0, 0, 0]);
    expect(h.shadow).toEqual([0, 0, 95, 0, 4, 0, 0, 0, 0, 1, 0, 0]);
    expect(histogramCategories(h.stable, h.shadow)).toBe(10);
  });

  test('a window written before the out-of-range bins existed reads with those bins empty', () => {
    const old: ArmWindow = { ...EMPTY_ARM, requests: 3, counters: { sb0: 1, sb9: 2, cb0: 2, cb9: 1, dzero: 3 } };
    expect(scoreHistograms(old)).toEqual({ stable: [1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0], shadow: [2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0] });
  });

  test('an out-of-range bin counts as a category once either side has a score in it', () => {
    // A histogram with one score in each tenth of [0, 1], then `below` scores under 0 and `above` over 1.
    const histogram = (below: number, above: number) => [...new Array<number>(SCORE_BINS).fill(1), below, above];
    expect(histogramCategories(histogram(0, 0), histogram(0, 0))).toBe(10);
    expect(histogramCategories(histogram(0, 0), histogram(0, 3))).toBe(11);
    expect(histogramCategories(histogram(2, 0), histogram(0, 0))).toBe(11);
    expect(histogramCategories(histogram(2, 0), histogram(0, 3))).toBe(12);
  });

  test('an empty window has no rate and no score figures', () => {
    expect(summariseComparison(EMPTY_ARM)).toEqual({
      pairs: 0, disagreements: 0, disagreementRate: null, meanAbsDiff: null, meanDiff: null, rmsDiff: null, p95AbsDiff: null,
    });
  });
});

describe('comparison windows across replicas', () => {
  // Scores on a 1/64 grid keep every float sum exact in any order, so whole summaries compare with toEqual; some are out of range.
  const score = fc.integer({ min: -16, max: 80 }).map((n) => n / 64);
  const pairArb = fc.tuple(score, score).map(([a, b]) => scorePair(a, b, 0.05));

  test('merging the pairs of several replicas in any order gives the summary and the drift verdict of one window', () => {
    fc.assert(
      fc.property(fc.array(fc.array(pairArb, { maxLength: 40 }), { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 5 }), fc.nat(), (buckets, k, seed) => {
        const rng = new Rng(seed);
        const whole = buckets.map((pairs) => mergeAll(pairs.map(comparisonArm)));
        const split = buckets.map((pairs) => {
          const replicas: ArmWindow[] = Array.from({ length: k }, () => EMPTY_ARM);
          for (const pair of pairs) {
            const r = rng.int(k);
            replicas[r] = mergeArms(replicas[r] as ArmWindow, comparisonArm(pair));
          }
          return mergeAll(replicas.sort(() => rng.float() - 0.5));
        });
        split.forEach((arm, i) => expect(summariseComparison(arm)).toEqual(summariseComparison(whole[i] as ArmWindow)));
        expect(sumArms(buckets.flat().map(comparisonArm))).toEqual(mergeAll(whole));
        expect(analyseDrift(split, 'score')).toEqual(analyseDrift(whole, 'score'));
      }),
      { numRuns: 200 },
    );
  });
});
