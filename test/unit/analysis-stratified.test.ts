import { describe, expect, test } from 'vitest';
import { analyse, type AnalysisBucket, type AnalysisInput } from '../../src/core/analysis/detector.js';
import { DEFAULT_ANALYSIS_CONFIG } from '../../src/core/analysis/config.js';
import { EMPTY_ARM, latencyKey, type ArmWindow } from '../../src/core/analysis/window.js';
import type { Verdict } from '../../src/core/rollout-state.js';
import { seededRandom } from '../helpers/seeded-random.js';

function normal(next: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
}

/** `n` requests with log-normal latency (median `medianMs`, σ 0.5). */
function arm(next: () => number, n: number, medianMs: number): ArmWindow {
  const latency: Record<string, number> = {};
  let logSum = 0, logSqSum = 0;
  for (let i = 0; i < n; i++) {
    const ms = medianMs * Math.exp(0.5 * normal(next));
    const key = latencyKey(ms);
    latency[key] = (latency[key] ?? 0) + 1;
    logSum += Math.log(ms);
    logSqSum += Math.log(ms) ** 2;
  }
  return { requests: n, errors: 0, failingKeys: 0, logSum, logSqSum, latency };
}

interface Second {
  readonly weightBp: number;
  /** Median latency of both versions this second (a shared slowdown moves both). */
  readonly sharedMs: number;
  /** The candidate's own latency factor. */
  readonly candidateFactor?: number;
}

/** 100 requests a second split by weight; one bucket per second. */
function traffic(seed: number, seconds: readonly Second[]): AnalysisBucket[] {
  const next = seededRandom(seed);
  return seconds.map((s, i) => {
    const candidate = Math.round((100 * s.weightBp) / 10_000);
    return {
      bucketMs: i * 1000,
      weightBp: s.weightBp,
      candidate: arm(next, candidate, s.sharedMs * (s.candidateFactor ?? 1)),
      stable: arm(next, 100 - candidate, s.sharedMs),
    };
  });
}

const baseline = (seed: number) => arm(seededRandom(seed), 6000, 100);

function at(buckets: readonly AnalysisBucket[], seconds: number, seed = 7): AnalysisInput {
  const upTo = buckets.slice(0, seconds);
  return { now: seconds * 1000, weightBp: upTo.at(-1)?.weightBp ?? 0, baseline: baseline(seed), buckets: upTo };
}

/** Every verdict the loop would see, one look every 5 s. */
function looks(buckets: readonly AnalysisBucket[]): Verdict[] {
  const out: Verdict[] = [];
  for (let s = 5; s <= buckets.length; s += 5) out.push(analyse(at(buckets, s), DEFAULT_ANALYSIS_CONFIG));
  return out;
}

const repeat = (n: number, second: Second): Second[] => Array.from({ length: n }, () => second);

/** Geometric-mean latency ratio, candidate over stable, pooled over every bucket (what the detector no longer does). */
function pooledRatio(buckets: readonly AnalysisBucket[]): number {
  const mean = (pick: (b: AnalysisBucket) => ArmWindow) => {
    const arms = buckets.map(pick);
    return arms.reduce((s, a) => s + a.logSum, 0) / arms.reduce((n, a) => n + a.requests, 0);
  };
  return Math.exp(mean((b) => b.candidate) - mean((b) => b.stable));
}

describe('comparisons within each time bucket', () => {
  test('identical versions that slow down 2× together at a step change are never failed', () => {
    // 10 % for 2 min, then 50 % while both versions answer twice as slowly: pooling over the
    // rollout would compare the candidate's slow recent requests with stable's fast older ones.
    for (const seed of [1, 2, 3, 4, 5]) {
      const buckets = traffic(seed, [...repeat(120, { weightBp: 1000, sharedMs: 100 }), ...repeat(120, { weightBp: 5000, sharedMs: 200 })]);
      // The trap: pooled over the rollout, the candidate's geometric mean looks far slower than stable's.
      expect(pooledRatio(buckets)).toBeGreaterThan(1.3);
      const verdicts = looks(buckets);
      expect(verdicts.filter((v) => v.result === 'fail').map((v) => v.reason)).toEqual([]);
      const last = verdicts.at(-1) as Verdict;
      expect(last.result).toBe('pass');
      expect(last.figures['latencyMeanRatio']).toBeGreaterThan(0.95);
      expect(last.figures['latencyMeanRatio']).toBeLessThan(1.05);
    }
  });

  test('a shared ramp through a 100 % step is never failed, and the 100 % step says what judges it', () => {
    const seconds = [
      ...repeat(90, { weightBp: 2500, sharedMs: 100 }),
      ...Array.from({ length: 120 }, (_, i): Second => ({ weightBp: 10_000, sharedMs: 100 * (1 + i / 60) })),
    ];
    const verdicts = looks(traffic(11, seconds));
    expect(verdicts.some((v) => v.result === 'fail')).toBe(false);
    const last = verdicts.at(-1) as Verdict;
    expect(last.result).toBe('pass');
    expect(last.reason).toMatch(/^100 % step, no stable traffic to compare with: judged by the absolute error guard \(0 of \d+ candidate requests failed/);
    expect(last.reason).toContain('the evidence of the earlier steps stands');
    expect(last.reason).toContain('latency is not judged without stable traffic');
  });

  test('a rollout that starts at 100 % says that nothing was ever compared with stable', () => {
    const last = looks(traffic(12, repeat(30, { weightBp: 10_000, sharedMs: 100 }))).at(-1) as Verdict;
    expect(last.result).toBe('pass');
    expect(last.reason).toContain('no earlier step compared the candidate with stable');
  });

  test('a candidate 1.5× slower is failed and never passes a look before that', () => {
    for (const seed of [21, 22, 23]) {
      const verdicts = looks(traffic(seed, repeat(240, { weightBp: 1000, sharedMs: 100, candidateFactor: 1.5 })));
      const firstFail = verdicts.findIndex((v) => v.result === 'fail');
      expect(firstFail).toBeGreaterThan(-1);
      expect(verdicts.slice(0, firstFail).map((v) => v.result)).not.toContain('pass');
    }
  });
});

describe('no step passes unjudged', () => {
  const steady = (weightBp: number, n: number) => repeat(n, { weightBp, sharedMs: 100 });

  test('after a weight change nothing passes until the latency warm-up is over and the new weight is judged', () => {
    const buckets = traffic(31, [...steady(1000, 120), ...steady(2500, 60)]);
    expect(analyse(at(buckets, 120), DEFAULT_ANALYSIS_CONFIG).result).toBe('pass');
    const justAfter = analyse(at(buckets, 135), DEFAULT_ANALYSIS_CONFIG);
    expect(justAfter.result).toBe('inconclusive');
    expect(justAfter.reason).toMatch(/^latency warm-up after the candidate's weight changed: judged from \d+ s from now, and a step does not pass before its latency is judged/);
    const warm = justAfter.checks.find((c) => c.name === 'latency judged at this weight');
    expect(warm).toMatchObject({ result: 'inconclusive', value: 0, meaning: 'latency warm-up after the weight changed: the step waits for it' });
    // Past the 30 s warm-up, 25 candidate requests a second judge the new weight within seconds.
    expect(analyse(at(buckets, 180), DEFAULT_ANALYSIS_CONFIG).result).toBe('pass');
  });

  test('too few candidate requests at the current weight is inconclusive however clean the earlier weights were', () => {
    const buckets = traffic(32, [...steady(1000, 120), ...steady(2500, 1)]);
    const v = analyse({ ...at(buckets, 121), weightBp: 2500 }, DEFAULT_ANALYSIS_CONFIG);
    expect(v.result).toBe('inconclusive');
    expect(v.reason).toMatch(/^too few candidate requests at weight 25%: 25 of 100 needed/);
  });

  test('weight 0 has nothing to judge', () => {
    const v = analyse({ now: 10_000, weightBp: 0, baseline: baseline(1), buckets: traffic(33, steady(0, 10)) }, DEFAULT_ANALYSIS_CONFIG);
    expect(v).toMatchObject({ result: 'inconclusive', reason: 'the candidate has weight 0: no live traffic to judge' });
  });

  test('every check says in words what it means', () => {
    const v = analyse(at(traffic(34, steady(1000, 120)), 120), DEFAULT_ANALYSIS_CONFIG);
    expect(v.checks.length).toBeGreaterThanOrEqual(9);
    for (const check of v.checks) expect(check.meaning.length, check.name).toBeGreaterThan(10);
    expect(v.checks.find((c) => c.name === 'evidence')?.meaning).toMatch(/^evidence against the candidate [\d.]+ of the 100 that roll back; about 1 or less means no sign of regression$/);
  });

  test('an empty baseline and no traffic stay finite and inconclusive', () => {
    const v = analyse({ now: 0, weightBp: 500, baseline: EMPTY_ARM, buckets: [] }, DEFAULT_ANALYSIS_CONFIG);
    expect(v.result).toBe('inconclusive');
    expect(Object.values(v.figures).every(Number.isFinite)).toBe(true);
  });
});
