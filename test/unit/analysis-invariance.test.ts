import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { analyse, analyseFrom, type AnalysisBucket, type AnalysisCheckpoint, type AnalysisInput } from '../../src/core/analysis/detector.js';
import { resolveAnalysisConfig, type AnalysisConfig } from '../../src/core/analysis/config.js';
import { EMPTY_ARM, mergeArms, type ArmWindow } from '../../src/core/analysis/window.js';
import { Rng } from '../../bench/detector-lib/rng.js';

/**
 * Properties of the detector as a whole: the verdict depends only on the
 * merged windows (so replicas may split traffic any way), and resuming from a
 * checkpoint gives exactly the verdict of a fold from scratch.
 */

const CONFIGS: AnalysisConfig[] = [
  resolveAnalysisConfig({ minCandidateRequests: 10, latencyBaselineMinRequests: 100, latencyWarmupMs: 0, msprtBurnIn: 20 }),
  resolveAnalysisConfig({ alpha: 0.2, minCandidateEvents: 2, minCandidateRequests: 10, latencyEnabled: false }),
  resolveAnalysisConfig({ alpha: 0.1, dedupByKey: false, latencyBaselineMinRequests: 200, latencyWarmupMs: 3_000 }),
];

/**
 * One arm with consistent counts. Log sums are multiples of 1/64 so that any
 * split adds back exactly in floating point; the detector never checks them
 * against the histogram.
 */
const armOf = (maxBin: number) => fc
  .record({
    bins: fc.array(fc.nat(maxBin), { minLength: 5, maxLength: 5 }),
    errorShare: fc.double({ min: 0, max: 1, noNaN: true }),
    keyShare: fc.double({ min: 0, max: 1, noNaN: true }),
    logSum: fc.nat(20_000),
    logSqSum: fc.nat(80_000),
  })
  .map(({ bins, errorShare, keyShare, logSum, logSqSum }): ArmWindow => {
    const latency: Record<string, number> = {};
    bins.forEach((count, i) => {
      if (count > 0) latency[String(112 + 9 * i)] = count;
    });
    const requests = bins.reduce((a, b) => a + b, 0);
    const errors = Math.floor(requests * errorShare);
    return { requests, errors, failingKeys: Math.floor(errors * keyShare), logSum: logSum / 64, logSqSum: logSqSum / 64, latency };
  });
const armArb = armOf(40);

const streamArb = fc.array(fc.record({ stable: armOf(40), candidate: armOf(4), weightBp: fc.constantFrom(500, 1000, 1000, 1500) }), { minLength: 1, maxLength: 40 }).map((rows) =>
  rows.map((r, i): AnalysisBucket => ({ bucketMs: i * 1000, ...r })),
);

function inputOf(buckets: readonly AnalysisBucket[], baseline: ArmWindow): AnalysisInput {
  return { now: buckets.length * 1000, weightBp: buckets.at(-1)?.weightBp ?? 1000, baseline, buckets };
}

/** Splits every count of a window over `k` replicas at random. */
function split(arm: ArmWindow, k: number, rng: Rng): ArmWindow[] {
  const share = (total: number) => {
    const cuts = [0, ...Array.from({ length: k - 1 }, () => rng.int(total + 1)).sort((a, b) => a - b), total];
    return cuts.slice(1).map((c, i) => c - (cuts[i] as number));
  };
  const requests = share(arm.requests);
  const errors = share(arm.errors);
  const keys = share(arm.failingKeys);
  const logSum = share(arm.logSum * 64);
  const logSqSum = share(arm.logSqSum * 64);
  const bins = Object.entries(arm.latency).map(([key, count]) => [key, share(count)] as const);
  return Array.from({ length: k }, (_, r) => ({
    requests: requests[r] as number,
    errors: errors[r] as number,
    failingKeys: keys[r] as number,
    logSum: (logSum[r] as number) / 64,
    logSqSum: (logSqSum[r] as number) / 64,
    latency: Object.fromEntries(bins.filter(([, parts]) => (parts[r] as number) > 0).map(([key, parts]) => [key, parts[r] as number])),
  }));
}

/** What the store returns: every replica's window of a bucket added up, in whatever order. */
function mergeShuffled(parts: ArmWindow[], rng: Rng): ArmWindow {
  const order = parts.map((p) => ({ p, r: rng.float() })).sort((a, b) => a.r - b.r);
  return order.reduce((acc, { p }) => mergeArms(acc, p), EMPTY_ARM);
}

describe('the verdict does not depend on how windows are split across replicas', () => {
  test('split each bucket into k replica windows, merge them back with mergeArms: the same verdict', () => {
    fc.assert(
      fc.property(streamArb, armArb, fc.integer({ min: 1, max: 8 }), fc.nat(), fc.constantFrom(...CONFIGS), (buckets, baseline, k, seed, config) => {
        const rng = new Rng(seed);
        const merged = buckets.map((b) => ({
          ...b,
          stable: mergeShuffled(split(b.stable, k, rng), rng),
          candidate: mergeShuffled(split(b.candidate, k, rng), rng),
        }));
        const mergedBaseline = mergeShuffled(split(baseline, k, rng), rng);
        expect(analyse(inputOf(merged, mergedBaseline), config)).toEqual(analyse(inputOf(buckets, baseline), config));
      }),
      { numRuns: 150 },
    );
  });
});

describe('a checkpoint only spares work', () => {
  test('resuming at any cut points gives exactly the verdict of a fold from scratch', () => {
    fc.assert(
      fc.property(streamArb, armArb, fc.array(fc.nat(40), { maxLength: 6 }), fc.constantFrom(...CONFIGS), (buckets, baseline, cuts, config) => {
        let checkpoint: AnalysisCheckpoint | null = null;
        for (const cut of [...cuts].sort((a, b) => a - b)) {
          checkpoint = analyseFrom(inputOf(buckets.slice(0, Math.min(cut, buckets.length)), baseline), config, checkpoint).checkpoint;
        }
        const resumed = analyseFrom(inputOf(buckets, baseline), config, checkpoint).verdict;
        expect(resumed).toEqual(analyse(inputOf(buckets, baseline), config));
      }),
      { numRuns: 150 },
    );
  });

  test('a checkpoint of another bucket stream, config or baseline is ignored', () => {
    fc.assert(
      fc.property(streamArb, streamArb, armArb, fc.constantFrom(...CONFIGS), (a, b, baseline, config) => {
        const shifted = b.map((x) => ({ ...x, bucketMs: x.bucketMs + 500 }));
        const { checkpoint } = analyseFrom(inputOf(a, baseline), config, null);
        expect(analyseFrom(inputOf(shifted, baseline), config, checkpoint).verdict).toEqual(analyse(inputOf(shifted, baseline), config));
        const other = CONFIGS.find((c) => c !== config) as AnalysisConfig;
        expect(analyseFrom(inputOf(a, baseline), other, checkpoint).verdict).toEqual(analyse(inputOf(a, baseline), other));
        expect(analyseFrom(inputOf(a, EMPTY_ARM), config, checkpoint).verdict).toEqual(analyse(inputOf(a, EMPTY_ARM), config));
      }),
      { numRuns: 60 },
    );
  });

  test('the input is never mutated', () => {
    fc.assert(
      fc.property(streamArb, armArb, fc.constantFrom(...CONFIGS), (buckets, baseline, config) => {
        const before = JSON.stringify({ buckets, baseline });
        const { checkpoint } = analyseFrom(inputOf(buckets.slice(0, 3), baseline), config, null);
        const frozen = JSON.stringify(checkpoint.state, (_k, v: unknown) => (v instanceof Float64Array ? [...v] : v));
        analyseFrom(inputOf(buckets, baseline), config, checkpoint);
        expect(JSON.stringify({ buckets, baseline })).toBe(before);
        expect(JSON.stringify(checkpoint.state, (_k, v: unknown) => (v instanceof Float64Array ? [...v] : v))).toBe(frozen);
      }),
      { numRuns: 40 },
    );
  });
});
