import { describe, expect, test } from 'vitest';
import { Rng } from '../../bench/detector-lib/rng.js';
import { HISTOGRAM_BINS, scoreBin } from '../../src/core/shadow/comparison.js';
import { binProductLogE, psi, psiCritical, psiNoiseFloor } from '../../src/core/shadow/distribution.js';
import { chiSquareUpperQuantile, lnGamma, normalUpperQuantile, wilsonInterval } from '../../src/core/shadow/stats.js';

// Stable and shadow score histograms of 100 pairs each over 10 bins; the shadow's last bin has a score stable's has not.
const STABLE = [10, 20, 30, 20, 10, 5, 3, 1, 1, 0];
const SHADOW = [5, 15, 25, 25, 15, 7, 4, 2, 1, 1];

describe('PSI of paired score histograms (docs/analysis.md, "Shadows: paired comparison and drift")', () => {
  test('matches a hand computation, an empty bin taken as a 1e-4 share', () => {
    // (c − b)·ln(c/b) per bin, on proportions:
    //   (.05−.10)ln(.5) = .034657   (.15−.20)ln(.75) = .014384   (.25−.30)ln(5/6) = .009116
    //   (.25−.20)ln(1.25) = .011157 (.15−.10)ln(1.5) = .020273   (.07−.05)ln(1.4) = .006729
    //   (.04−.03)ln(4/3) = .002877  (.02−.01)ln(2) = .006931     (.01−.01)·0 = 0
    //   (.01−.0001)ln(100) = .045591                             sum = .151717
    expect(psi(STABLE, SHADOW)).toBeCloseTo(0.151717, 6);
    expect(psi(STABLE, STABLE)).toBe(0);
    expect(psi(STABLE, new Array(10).fill(0))).toBeNull();
  });

  test('counts a category stable never has fully: 15 % of the shadow’s scores above 1 against uniform scores', () => {
    // 200 pairs each; the tenths of [0, 1], then below 0, then above 1. The shadow is stable except for 30 impossible scores.
    const stable = [...new Array<number>(10).fill(20), 0, 0];
    const shadow = [...new Array<number>(10).fill(17), 0, 30];
    // Folded into the last tenth, they look like a mild shift: 9 × (.085 − .1)ln(.85) + (.235 − .1)ln(2.35) = .137.
    const folded = [...shadow.slice(0, 9), 47, 0, 0];
    expect(psi(stable, folded)).toBeCloseTo(0.137, 3);
    // In their own bin: 10 × (.085 − .1)ln(.85) + (.15 − .0001)ln(.15 / .0001) = 1.1206.
    expect(psi(stable, shadow)).toBeCloseTo(1.1206, 4);
  });

  test('its noise floor is (B − 1)(1/n_c + 1/n_b) and its critical value χ²_{B−1, 1−α}(1/n_c + 1/n_b)', () => {
    expect(psiNoiseFloor(10, 100, 100)).toBeCloseTo(0.18, 12);
    // χ²_{9, 0.99} = 21.666 (tables), × 0.02.
    expect(psiCritical(10, 100, 100, 0.01)).toBeCloseTo(0.4333, 2);
    // docs/analysis.md, "Shadows: paired comparison and drift": n_c = 150, m = 19·n_c gives E[PSI] = 0.063 and PSI_0.01 = 0.152.
    expect(psiNoiseFloor(10, 19 * 150, 150)).toBeCloseTo(0.063, 3);
    expect(psiCritical(10, 19 * 150, 150, 0.01)).toBeCloseTo(0.152, 3);
  });
});

describe('bin-product e-process (docs/analysis.md, "Shadows: paired comparison and drift", w = ½)', () => {
  test('is the product of Beta-binomial Bayes factors with a = b = 50', () => {
    // One bin with N = 3 all the shadow's: B(53, 50)/B(50, 50) / 0.5³ = 50·51·52/(100·101·102) · 8.
    expect(binProductLogE([0], [3])).toBeCloseTo(Math.log(((50 * 51 * 52) / (100 * 101 * 102)) * 8), 10);
    // One observation carries no evidence: the prior's mean is w.
    expect(binProductLogE([1], [0])).toBeCloseTo(0, 12);
    expect(binProductLogE([0, 0], [0, 0])).toBe(0);
  });

  test('pairs split across bins cost little validity: A/A of weakly correlated exchangeable pairs, 500 seeded runs of 2000 pairs', () => {
    // The product assumes independent labels across bins; a pair split over two bins breaks that (see distribution.ts).
    // Worst case here: each side is the input's score plus its own noise σ = 0.3, so most pairs fall in different bins,
    // and about a quarter of each side's scores fall outside [0, 1], into the out-of-range bins.
    let flagged = 0;
    for (let seed = 1; seed <= 500; seed++) {
      const rng = new Rng(seed);
      const stable = new Array<number>(HISTOGRAM_BINS).fill(0);
      const shadow = new Array<number>(HISTOGRAM_BINS).fill(0);
      let peak = -Infinity;
      for (let bucket = 0; bucket < 40; bucket++) {
        for (let i = 0; i < 50; i++) {
          const z = rng.float();
          stable[scoreBin(z + 0.3 * rng.normal())]! += 1;
          shadow[scoreBin(z + 0.3 * rng.normal())]! += 1;
        }
        peak = Math.max(peak, binProductLogE(stable, shadow));
      }
      if (peak >= Math.log(100)) flagged++;
    }
    console.info(`A/A bin-product, split pairs: ${flagged}/500 flagged`);
    expect(flagged / 500).toBeLessThanOrEqual(0.02);
  });

  test('grows with a real shift and stays small for equal histograms', () => {
    const scale = (h: number[], k: number) => h.map((x) => x * k);
    expect(binProductLogE(scale(STABLE, 100), scale(SHADOW, 100))).toBeGreaterThan(Math.log(100));
    expect(binProductLogE(scale(STABLE, 100), scale(STABLE, 100))).toBeLessThan(0);
  });
});

describe('special functions', () => {
  test('ln Γ, the normal and χ² quantiles and the Wilson interval against tables', () => {
    expect(lnGamma(5)).toBeCloseTo(Math.log(24), 12);
    expect(lnGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 12);
    expect(lnGamma(100.5)).toBeCloseTo(361.4355404677776, 9);
    expect(normalUpperQuantile(0.025)).toBeCloseTo(1.959964, 5);
    expect(normalUpperQuantile(0.01)).toBeCloseTo(2.326348, 5);
    expect(chiSquareUpperQuantile(9, 0.01) / 21.665994).toBeCloseTo(1, 2);
    expect(chiSquareUpperQuantile(9, 0.05) / 16.918978).toBeCloseTo(1, 2);
    const w = wilsonInterval(10, 100, 1.959964);
    expect(w.low).toBeCloseTo(0.0552, 4);
    expect(w.high).toBeCloseTo(0.1744, 4);
    expect(wilsonInterval(0, 20, 1.959964).low).toBe(0);
  });
});
