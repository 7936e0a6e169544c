import { describe, expect, test } from 'vitest';
import { analyse, type AnalysisBucket, type AnalysisInput } from '../../src/core/analysis/detector.js';
import { DEFAULT_ANALYSIS_CONFIG, resolveAnalysisConfig } from '../../src/core/analysis/config.js';
import { EMPTY_ARM, GATEWAY_SATURATED, latencyKey, latencyValue, type ArmWindow } from '../../src/core/analysis/window.js';

/** Stable's latencies: 14 values from 50 to 400 ms (p50 110 ms, p90 300 ms, p99 400 ms by rank). */
const SPREAD = [50, 60, 70, 80, 90, 100, 110, 120, 140, 160, 200, 250, 300, 400];

function window(latencies: ReadonlyArray<readonly [number, number]>): ArmWindow {
  const latency: Record<string, number> = {};
  let requests = 0, logSum = 0, logSqSum = 0;
  for (const [ms, count] of latencies) {
    latency[latencyKey(ms)] = (latency[latencyKey(ms)] ?? 0) + count;
    requests += count;
    logSum += count * Math.log(ms);
    logSqSum += count * Math.log(ms) ** 2;
  }
  return { requests, errors: 0, failingKeys: 0, logSum, logSqSum, latency };
}

const spread = (each: number, factor = 1) => window(SPREAD.map((ms) => [ms * factor, each] as const));

/** 1-s buckets: stable 7 of each SPREAD value (98), candidate 1 of each × `factor(second)` (14): ρ = 0.125. */
function stream(seconds: number, factor: (s: number) => number, weightBp?: (s: number) => number): AnalysisBucket[] {
  return Array.from({ length: seconds }, (_, s) => ({
    bucketMs: s * 1000,
    stable: spread(7),
    candidate: spread(1, factor(s)),
    ...(weightBp === undefined ? {} : { weightBp: weightBp(s) }),
  }));
}

function input(buckets: AnalysisBucket[], baseline: ArmWindow = spread(100)): AnalysisInput {
  return { now: buckets.length * 1000, weightBp: buckets.at(-1)?.weightBp ?? 1250, baseline, buckets };
}

describe('latency exceedance thresholds (docs/analysis.md, "Slow requests")', () => {
  test('come from the stable baseline; candidate latency never moves them', () => {
    const fast = analyse(input(stream(60, () => 1)), DEFAULT_ANALYSIS_CONFIG).figures;
    const slow = analyse(input(stream(60, () => 10)), DEFAULT_ANALYSIS_CONFIG).figures;
    for (const [q, ms] of [['P50', 110], ['P90', 300], ['P99', 400]] as const) {
      expect(fast[`threshold${q}Ms`]).toBe(latencyValue(latencyKey(ms)));
      expect(slow[`threshold${q}Ms`]).toBe(fast[`threshold${q}Ms`]);
    }
  });

  test('without a baseline they come from earlier stable buckets only, and apply from the next bucket on', () => {
    const config = resolveAnalysisConfig({ latencyWarmupMs: 0 });
    const first: AnalysisBucket = { bucketMs: 0, stable: window([[100, 1000]]), candidate: window([[1000, 50]]) };
    const next: AnalysisBucket = { bucketMs: 1000, stable: window([[100, 100]]), candidate: window([[1000, 5]]) };
    const f = analyse(input([first, next], EMPTY_ARM), config).figures;
    expect(f['thresholdP50Ms']).toBe(latencyValue(latencyKey(100)));
    expect(f['thresholdP99Ms']).toBe(latencyValue(latencyKey(100)));
    // Only the second bucket's 5 slow candidate requests are judged; the first one fixed the thresholds.
    expect(f['candidateAboveP99']).toBe(5);
    expect(f['stableAboveP99']).toBe(0);
  });

  test('a candidate 1.5× slower fails on latency with the quantiles in the reason', () => {
    const v = analyse(input(stream(300, () => 1.5)), DEFAULT_ANALYSIS_CONFIG);
    expect(v.result).toBe('fail');
    expect(v.reason).toMatch(/^candidate (p50|p90|p99|geometric-mean) latency .* \(evidence \S+ ≥ 100\)$/);
    expect(v.figures['p90Ratio']).toBeGreaterThan(1.4);
  });

  test('the same candidate as fast as stable passes', () => {
    expect(analyse(input(stream(300, () => 1)), DEFAULT_ANALYSIS_CONFIG).result).toBe('pass');
  });
});

describe('a saturated gateway', () => {
  const saturated = (arm: ArmWindow): ArmWindow => ({ ...arm, counters: { [GATEWAY_SATURATED]: 1 } });

  test('its buckets are not judged on latency: its own queueing does not fall evenly on the versions', () => {
    const slow = stream(300, () => 1.5);
    expect(analyse(input(slow), DEFAULT_ANALYSIS_CONFIG).result).toBe('fail');
    const marked = slow.map((b) => ({ ...b, stable: saturated(b.stable) }));
    const v = analyse(input(marked), DEFAULT_ANALYSIS_CONFIG);
    // Latency unjudged is never a pass: the verdict waits and says why.
    expect(v.result).toBe('inconclusive');
    expect(v.figures['saturatedBuckets']).toBe(300);
    expect(v.reason).toContain('latency not judged in 300 bucket(s) where the gateway itself was saturated');
  });

  test('errors are still judged in its buckets', () => {
    const failing = stream(120, () => 1).map((b) => ({ ...b, candidate: saturated({ ...b.candidate, errors: 7, failingKeys: 7 }) }));
    expect(analyse(input(failing), DEFAULT_ANALYSIS_CONFIG).result).toBe('fail');
  });
});

describe('latency warm-up (docs/analysis.md, "Warm-up")', () => {
  const coldStart = (s: number) => (s < 20 ? 10 : 1);

  test('a cold start in the first 30 s is not held against the candidate', () => {
    expect(analyse(input(stream(300, coldStart)), DEFAULT_ANALYSIS_CONFIG).result).toBe('pass');
    expect(analyse(input(stream(300, coldStart)), resolveAnalysisConfig({ latencyWarmupMs: 0 })).result).toBe('fail');
  });

  test('a known weight change starts a new warm-up', () => {
    const slowAfterStep = (s: number) => (s >= 120 && s < 140 ? 10 : 1);
    const weight = (s: number) => (s < 120 ? 1250 : 2500);
    const stepped = stream(300, slowAfterStep, weight).map((b) => (b.bucketMs < 120_000 ? b : { ...b, stable: spread(6), candidate: spread(2, slowAfterStep(b.bucketMs / 1000)) }));
    expect(analyse({ ...input(stepped), weightBp: 2500 }, DEFAULT_ANALYSIS_CONFIG).result).toBe('pass');
    const unlabeled = stepped.map(({ weightBp: _w, ...b }) => b);
    expect(analyse({ ...input(unlabeled), weightBp: 2500, weightSinceMs: 120_000 }, DEFAULT_ANALYSIS_CONFIG).result).toBe('fail');
  });
});
