import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { addEvents, logEvidence, logMeanExp, newGridProcess, theta } from '../../src/core/analysis/e-process.js';
import { addBucketMoments, msprt, newStratifiedMoments, type LogMoments } from '../../src/core/analysis/latency-test.js';
import { erfc, normalTwoSided } from '../../src/core/analysis/sample-ratio.js';

const GRID = [1.25, 1.5, 2, 3, 5, 10, 20];

describe('grid-mixture conditional-binomial e-process (docs/analysis.md, "Error rates")', () => {
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

describe('log-latency mSPRT, stratified by time bucket', () => {
  const momentsOf = (buckets: ReadonlyArray<readonly [LogMoments, LogMoments]>) => {
    const m = newStratifiedMoments();
    for (const [c, b] of buckets) addBucketMoments(m, c, b);
    return m;
  };

  test('a hand-computed case in one bucket', () => {
    // Candidate ln v = 1, 2, 3, 4 (n 4, Σ 10, Σ² 30); stable ln v = 0, 1, 2, 3 (n 4, Σ 6, Σ² 14).
    // Means 2.5 and 1.5; within-bucket σ² = (5 + 5)/6 = 1.6667; h = 1/4 + 1/4, V = σ²·h = 0.83333.
    // τ = 1, no margin: Δ = 1, ln Λ = ½·ln(0.83333/1.83333) + 1/(2·0.83333·1.83333) = −0.394229 + 0.327273 = −0.066956.
    const m = momentsOf([[{ n: 4, sum: 10, sumSq: 30 }, { n: 4, sum: 6, sumSq: 14 }]]);
    const r = msprt(m, 1, 1);
    expect(r?.delta).toBeCloseTo(1, 12);
    expect(r?.logLambda).toBeCloseTo(-0.066956, 6);
    expect(r?.ratio).toBeCloseTo(Math.E, 12);
    // With the 1.05 margin and τ = 0.5: Δ = 1 − ln 1.05 = 0.951210, ln Λ = −0.005902.
    expect(msprt(m, 0.5, 1.05)?.logLambda).toBeCloseTo(-0.005902, 6);
  });

  test('two buckets are weighted by 1/(1/n_c + 1/n_b) and their within-bucket spread is pooled', () => {
    // Bucket 1: candidate ln v 1,3 (mean 2), stable 0,2 (mean 1): Δ 1, h 1, SS 2 + 2, df 2.
    // Bucket 2: candidate ln v 5 (mean 5, n 1), stable 3,3,3 (mean 3, n 3): Δ 2, h 4/3, SS 0, df 2.
    // Δ̂ = (1/1 + 2/(4/3)) / (1 + 3/4) = 2.5/1.75 = 1.428571; σ² = 4/4 = 1; V = 1/1.75.
    const m = momentsOf([
      [{ n: 2, sum: 4, sumSq: 10 }, { n: 2, sum: 2, sumSq: 4 }],
      [{ n: 1, sum: 5, sumSq: 25 }, { n: 3, sum: 9, sumSq: 27 }],
    ]);
    const r = msprt(m, 1, 1);
    const v = 1 / 1.75;
    expect(r?.delta).toBeCloseTo(2.5 / 1.75, 12);
    expect(r?.logLambda).toBeCloseTo(0.5 * Math.log(v / (v + 1)) + (2.5 / 1.75) ** 2 / (2 * v * (v + 1)), 12);
    expect(m).toMatchObject({ candidateN: 3, stableN: 5, withinDf: 4 });
  });

  test('a slowdown shared by both versions adds nothing, whatever the candidate share of each bucket', () => {
    // Identical versions; the second bucket is 2× slower for both, and the candidate has most of its requests there.
    const fast = (n: number): LogMoments => ({ n, sum: n * Math.log(100), sumSq: n * Math.log(100) ** 2 + n * 0.25 });
    const slow = (n: number): LogMoments => ({ n, sum: n * Math.log(200), sumSq: n * Math.log(200) ** 2 + n * 0.25 });
    const m = momentsOf([[fast(5), fast(95)], [slow(90), slow(10)]]);
    expect(msprt(m, Math.log(1.1), 1)?.ratio).toBeCloseTo(1, 12);
  });

  test('a bucket where one version had no request adds nothing; without a comparison there is no result', () => {
    const m = momentsOf([[{ n: 0, sum: 0, sumSq: 0 }, { n: 4, sum: 6, sumSq: 14 }]]);
    expect(m).toMatchObject({ weightSum: 0, candidateN: 0, stableN: 0 });
    expect(msprt(m, 1, 1)).toBeNull();
    expect(msprt(momentsOf([[{ n: 1, sum: 1, sumSq: 1 }, { n: 1, sum: 1, sumSq: 1 }]]), 1, 1)).toBeNull();
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
