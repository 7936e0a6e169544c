import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { addEvents, logEvidence, logMeanExp, newGridProcess, theta } from '../../src/core/analysis/e-process.js';
import { msprt } from '../../src/core/analysis/latency-test.js';
import { erfc, normalTwoSided } from '../../src/core/analysis/sample-ratio.js';

const GRID = [1.25, 1.5, 2, 3, 5, 10, 20];

describe('grid-mixture conditional-binomial e-process (research §2.1A)', () => {
  test('one bucket with ρ = 0.05, x = 3 candidate and y = 10 stable events, computed by hand', () => {
    // θ(r) = ρr/(ρr + 1 − ρ) = r/(r + 19) at ρ = 0.05, and θ0 = θ(1) = 0.05.
    // ΔL_j = 3·ln(θ_j/0.05) + 10·ln((1 − θ_j)/0.95):
    //   r = 1.25: θ = 0.061728, 3·0.210721 − 10·0.012423 = 0.507938
    //   r = 1.5 : θ = 0.073171, 3·0.380772 − 10·0.024693 = 0.895391
    //   r = 2   : θ = 2/21     , 3·0.644357 − 10·0.048790 = 1.445169
    //   r = 3   : θ = 3/22     , 3·1.003302 − 10·0.095310 = 2.056805
    //   r = 5   : θ = 5/24     , 3·1.427116 − 10·0.182322 = 2.458133
    //   r = 10  : θ = 10/29    , 3·1.931022 − 10·0.371564 = 2.077429
    //   r = 20  : θ = 20/39    , 3·2.327903 − 10·0.667829 = 0.305415
    // E = (1.661861 + 2.448294 + 4.242571 + 7.820938 + 11.682985 + 7.983916 + 1.357188) / 7 = 5.313965
    const p = newGridProcess(GRID, 1);
    addEvents(p, 0.05, 3, 10);
    const expected = [0.507938, 0.895391, 1.445169, 2.056805, 2.458133, 2.077429, 0.305415];
    expected.forEach((l, j) => expect(p.logLR[j]).toBeCloseTo(l, 5));
    expect(Math.exp(logEvidence(p))).toBeCloseTo(5.313965, 5);
    expect(p.candidateEvents).toBe(3);
    expect(p.stableEvents).toBe(10);
  });

  test('θ(1) is the share itself and θ grows with the ratio', () => {
    expect(theta(0.05, 1)).toBeCloseTo(0.05, 12);
    expect(theta(0.05, 2)).toBeCloseTo(2 / 21, 12);
  });

  test('buckets where one arm had no requests carry no evidence', () => {
    const p = newGridProcess(GRID, 1);
    addEvents(p, 0, 0, 4);
    addEvents(p, 1, 4, 0);
    expect([...p.logLR]).toEqual(GRID.map(() => 0));
    expect(p.candidateEvents).toBe(0);
  });

  test('a margin r0 = 1.1 makes the same data weaker evidence', () => {
    const strict = newGridProcess(GRID, 1);
    const tolerant = newGridProcess(GRID, 1.1);
    addEvents(strict, 0.05, 3, 10);
    addEvents(tolerant, 0.05, 3, 10);
    expect(logEvidence(tolerant)).toBeLessThan(logEvidence(strict));
  });

  test('log space never overflows, however strong the evidence', () => {
    const p = newGridProcess(GRID, 1);
    for (let i = 0; i < 500; i++) addEvents(p, 0.05, 10, 0);
    expect(Number.isFinite(logEvidence(p))).toBe(true);
    expect(logEvidence(p)).toBeGreaterThan(1000);
  });

  test('the order of buckets does not change the evidence (it is a sum per grid point)', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ rho: fc.double({ min: 0.01, max: 0.99, noNaN: true }), x: fc.nat(20), y: fc.nat(50) }), { maxLength: 20 }), (buckets) => {
        const forward = newGridProcess(GRID, 1);
        const backward = newGridProcess(GRID, 1);
        buckets.forEach((b) => addEvents(forward, b.rho, b.x, b.y));
        [...buckets].reverse().forEach((b) => addEvents(backward, b.rho, b.x, b.y));
        expect(logEvidence(backward)).toBeCloseTo(logEvidence(forward), 9);
      }),
    );
  });

  test('logMeanExp matches the direct formula where that does not overflow', () => {
    expect(logMeanExp([0, Math.log(3)])).toBeCloseTo(Math.log(2), 12);
    expect(logMeanExp([])).toBe(-Infinity);
  });
});

describe('log-latency mSPRT (research §2.2B)', () => {
  test('a hand-computed case', () => {
    // Candidate ln v = 1, 2, 3, 4 (n 4, Σ 10, Σ² 30); stable ln v = 0, 1, 2, 3 (n 4, Σ 6, Σ² 14).
    // Means 2.5 and 1.5; pooled σ² = (5 + 5)/6 = 1.6667; V = σ²·(1/4 + 1/4) = 0.83333.
    // τ = 1, no margin: Δ = 1, ln Λ = ½·ln(0.83333/1.83333) + 1/(2·0.83333·1.83333) = −0.394229 + 0.327273 = −0.066956.
    const r = msprt({ n: 4, sum: 10, sumSq: 30 }, { n: 4, sum: 6, sumSq: 14 }, 1, 1);
    expect(r?.delta).toBeCloseTo(1, 12);
    expect(r?.logLambda).toBeCloseTo(-0.066956, 6);
    expect(r?.ratio).toBeCloseTo(Math.E, 12);
    // With the 1.05 margin and τ = 0.5: Δ = 1 − ln 1.05 = 0.951210, ln Λ = −0.005902.
    expect(msprt({ n: 4, sum: 10, sumSq: 30 }, { n: 4, sum: 6, sumSq: 14 }, 0.5, 1.05)?.logLambda).toBeCloseTo(-0.005902, 6);
  });

  test('is undefined until both arms have two observations and some spread', () => {
    expect(msprt({ n: 1, sum: 1, sumSq: 1 }, { n: 4, sum: 6, sumSq: 14 }, 1, 1)).toBeNull();
    expect(msprt({ n: 3, sum: 3, sumSq: 3 }, { n: 3, sum: 3, sumSq: 3 }, 1, 1)).toBeNull();
  });
});

describe('normal tail for the sample-ratio check', () => {
  test('matches known values', () => {
    expect(normalTwoSided(1.959964)).toBeCloseTo(0.05, 6);
    expect(normalTwoSided(0)).toBeCloseTo(1, 6);
    expect(normalTwoSided(4.891638) / 1e-6).toBeCloseTo(1, 4);
    expect(erfc(-1)).toBeCloseTo(2 - erfc(1), 12);
  });
});
