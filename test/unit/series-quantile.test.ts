import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { newDenseHistogram, quantileMs, scanHistogram } from '../../src/core/analysis/latency-test.js';
import { EMPTY_ARM, latencyKey, type WindowSlice } from '../../src/core/analysis/window.js';
import { buildSeries } from '../../src/http/admin/routes-series.js';

const T0 = 1_700_000_000_000;
const STEP_MS = 5_000;

/** Windows of version v1 in the first point of a series, one per histogram. */
function slices(histograms: readonly Record<string, number>[]): WindowSlice[] {
  return histograms.map((latency, i) => ({
    service: 'fraud-scorer',
    version: 'v1',
    bucketMs: T0 + i * 1_000,
    arm: { ...EMPTY_ARM, requests: Object.values(latency).reduce((a, b) => a + b, 0), latency },
  }));
}

/** The console's p99 of the first point. */
function consoleP99(histograms: readonly Record<string, number>[]): number | null {
  return buildSeries('fraud-scorer', slices(histograms), ['v1'], T0, T0 + STEP_MS, STEP_MS).versions['v1']?.p99Ms[0] ?? null;
}

/** The p99 the verdict reports: the windows summed into its dense histogram, read by its quantile. */
function verdictP99(histograms: readonly Record<string, number>[]): number | null {
  const dense = newDenseHistogram();
  for (const latency of histograms) scanHistogram(latency, dense, null, null);
  const ms = quantileMs(dense, 0.99);
  return ms === null ? null : Math.round(ms * 10_000) / 10_000;
}

const histogramOf = (latenciesMs: readonly number[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const ms of latenciesMs) out[latencyKey(ms)] = (out[latencyKey(ms)] ?? 0) + 1;
  return out;
};

describe("the console's p99 is the verdict's p99", () => {
  test('ten requests: the p99 is the slowest one (rank ⌈0.99 × 10⌉ = 10), in both', () => {
    const histograms = [histogramOf([1, 2, 3, 4, 5]), histogramOf([6, 7, 8, 9, 500])];
    expect(consoleP99(histograms)).toBe(verdictP99(histograms));
    expect(consoleP99(histograms)).toBeCloseTo(500, -1);
  });

  test('one request, and a hundred with a slow tail, agree too', () => {
    const one = [histogramOf([42])];
    expect(consoleP99(one)).toBe(verdictP99(one));
    const hundred = [histogramOf(Array.from({ length: 98 }, () => 10)), histogramOf([200, 900])];
    expect(consoleP99(hundred)).toBe(verdictP99(hundred));
    expect(consoleP99(hundred)).toBeCloseTo(200, -1);
  });

  test('they agree on any histograms', () => {
    const histogram = fc.dictionary(fc.integer({ min: -200, max: 450 }).map(String), fc.integer({ min: 1, max: 50 }), { minKeys: 1, maxKeys: 20 });
    fc.assert(
      fc.property(fc.array(histogram, { minLength: 1, maxLength: 5 }), (histograms) => {
        expect(consoleP99(histograms)).toBe(verdictP99(histograms));
      }),
    );
  });

  test('a point with no requests has no p99', () => {
    expect(buildSeries('fraud-scorer', [], ['v1'], T0, T0 + STEP_MS, STEP_MS).versions['v1']?.p99Ms).toEqual([null]);
  });
});
