import { describe, expect, test } from 'vitest';
import { analyse, analyseFrom, type AnalysisBucket, type AnalysisInput } from '../../src/core/analysis/detector.js';
import { DEFAULT_ANALYSIS_CONFIG, resolveAnalysisConfig } from '../../src/core/analysis/config.js';
import { addEvents, logEvidence, newGridProcess } from '../../src/core/analysis/e-process.js';
import { EMPTY_ARM, latencyKey, type ArmWindow } from '../../src/core/analysis/window.js';
import { Rng } from '../../bench/detector-lib/rng.js';
import { baselineWindow, candidateUsers, simulateBucket } from '../../bench/detector-lib/traffic.js';
import { BASE_SCENARIO } from '../../bench/detector-lib/scenarios.js';

/** Errors only, and only the tests since the start, so each figure is one e-process computed by hand. */
const ERRORS_ONLY = resolveAnalysisConfig({ latencyEnabled: false, restartShare: 0 });

interface ArmSpec {
  readonly requests: number;
  readonly failingKeys?: number;
  readonly errors?: number;
  /** [ms, count] pairs; by default every request at 100 ms. */
  readonly latencies?: ReadonlyArray<readonly [number, number]>;
}

function arm(spec: ArmSpec): ArmWindow {
  const latencies = spec.latencies ?? (spec.requests > 0 ? [[100, spec.requests] as const] : []);
  const latency: Record<string, number> = {};
  let logSum = 0;
  let logSqSum = 0;
  for (const [ms, count] of latencies) {
    const key = latencyKey(ms);
    latency[key] = (latency[key] ?? 0) + count;
    logSum += count * Math.log(ms);
    logSqSum += count * Math.log(ms) ** 2;
  }
  const failingKeys = spec.failingKeys ?? 0;
  return { requests: spec.requests, errors: spec.errors ?? failingKeys, failingKeys, logSum, logSqSum, latency };
}

function bucket(second: number, stable: ArmSpec, candidate: ArmSpec, weightBp?: number): AnalysisBucket {
  const b = { bucketMs: second * 1000, stable: arm(stable), candidate: arm(candidate) };
  return weightBp === undefined ? b : { ...b, weightBp };
}

function input(buckets: AnalysisBucket[], extra: Partial<AnalysisInput> = {}): AnalysisInput {
  const last = buckets.at(-1);
  return { now: last === undefined ? 0 : last.bucketMs + 1000, weightBp: 500, baseline: EMPTY_ARM, buckets, ...extra };
}

/** `seconds` 1-s buckets at ρ = 5 %: 5 candidate and 95 stable requests, failing keys from `fail(second)`. */
function steady(seconds: number, fail: (s: number) => [number, number], from = 0, weightBp?: number): AnalysisBucket[] {
  return Array.from({ length: seconds }, (_, i) => {
    const [x, y] = fail(from + i);
    return bucket(from + i, { requests: 95, failingKeys: y }, { requests: 5, failingKeys: x }, weightBp);
  });
}

describe('no data is never a pass', () => {
  test('no buckets at all is inconclusive', () => {
    const v = analyse(input([]), DEFAULT_ANALYSIS_CONFIG);
    expect(v).toMatchObject({ result: 'inconclusive', hold: false, reason: 'no candidate requests compared with stable at weight 5% yet' });
    expect(Object.values(v.figures).every(Number.isFinite)).toBe(true);
  });

  test('buckets without a single candidate request are inconclusive', () => {
    const buckets = Array.from({ length: 120 }, (_, s) => bucket(s, { requests: 100 }, { requests: 0 }));
    expect(analyse(input(buckets), DEFAULT_ANALYSIS_CONFIG).result).toBe('inconclusive');
  });

  test('a clean candidate below the minimum of requests is inconclusive, at the minimum it passes', () => {
    expect(analyse(input(steady(19, () => [0, 0])), ERRORS_ONLY).result).toBe('inconclusive');
    expect(analyse(input(steady(20, () => [0, 0])), ERRORS_ONLY).result).toBe('pass');
  });

  test('latency thresholds that are not fixed yet keep the verdict inconclusive', () => {
    const v = analyse(input(steady(5, () => [0, 0])), resolveAnalysisConfig({ minCandidateRequests: 10 }));
    expect(v.result).toBe('inconclusive');
    expect(v.reason).toMatch(/latency thresholds not fixed yet: 475 of 1000 stable requests/);
  });
});

describe('the error e-process on a hand-computed bucket', () => {
  test('ρ = 0.05, 3 candidate and 10 stable failing keys give E = 5.313965', () => {
    // The same numbers as the e-process test: ΔL_j per grid point, E = mean_j exp(ΔL_j) = 5.313965.
    // Only 3 candidate events (< 5), and E < 100 anyway: 100 candidate requests, a pass.
    const v = analyse(input([bucket(0, { requests: 1900, failingKeys: 10 }, { requests: 100, failingKeys: 3 })]), ERRORS_ONLY);
    expect(v.figures['errorEvidence']).toBeCloseTo(5.313965, 5);
    expect(v.result).toBe('pass');
    expect(v.reason).toBe('no sign of regression at weight 5%: candidate error rate 3.0% vs stable 0.5%; evidence against the candidate 5.3, rollback at 100');
    const check = v.checks.find((c) => c.name === 'error evidence');
    expect(check).toMatchObject({ threshold: 100, result: 'inconclusive' });
    expect(check?.value).toBeCloseTo(5.313965, 5);
  });

  test('raw errors are deduplicated to failing keys: one client retrying 20 times is one event', () => {
    const retries = bucket(0, { requests: 1900, failingKeys: 10 }, { requests: 120, errors: 21, failingKeys: 1 });
    const v = analyse(input([retries]), ERRORS_ONLY);
    expect(v.result).not.toBe('fail');
    expect(analyse(input([retries]), resolveAnalysisConfig({ latencyEnabled: false, dedupByKey: false })).result).toBe('fail');
  });
});

describe('rollback', () => {
  test('no rollback before the minimum of canary events, however strong the evidence', () => {
    // 4 candidate failing keys and none on stable at ρ = 0.05: L(20) = 4·ln(20/39 / 0.05) = 9.31, E ≈ 1.6e3 ≥ 100.
    const four = steady(30, (s) => [s < 4 ? 1 : 0, 0]);
    const v = analyse(input(four), ERRORS_ONLY);
    expect(v.figures['errorEvidence']).toBeGreaterThan(1000);
    expect(v.result).toBe('inconclusive');
    expect(v.reason).toMatch(/but fewer than 5 candidate events/);
    const five = [...four, ...steady(1, () => [1, 0], 30)];
    expect(analyse(input(five), ERRORS_ONLY).result).toBe('fail');
  });

  test('a total failure fails at the first look, by the absolute guard and by the e-process alone', () => {
    const broken = Array.from({ length: 5 }, (_, s) => bucket(s, { requests: 57, failingKeys: s === 2 ? 1 : 0 }, { requests: 3, failingKeys: 3 }));
    const v = analyse(input(broken), DEFAULT_ANALYSIS_CONFIG);
    expect(v.result).toBe('fail');
    expect(v.reason).toBe('candidate error ratio 100.0% over the last 1 min (15 of 15 requests failed) ≥ 50.0%');
    const noGuard = resolveAnalysisConfig({ absoluteErrorRate: 1, absoluteMinRequests: 1_000_000 });
    expect(analyse(input(broken), noGuard).reason).toMatch(/^candidate error rate 100\.0% vs stable 0\.4% \(evidence \S+ ≥ 100\)$/);
  });

  test('the reason names both error rates and the evidence beside its threshold', () => {
    // The candidate fails 1 request in 30 (3.3 %), stable 1 in 950 (0.1 %); the loop looks every 5 s.
    const bad = steady(300, (s) => [s % 6 === 0 ? 1 : 0, s % 10 === 0 ? 1 : 0]);
    let v = analyse(input(bad.slice(0, 5)), ERRORS_ONLY);
    for (let n = 10; v.result !== 'fail' && n <= bad.length; n += 5) v = analyse(input(bad.slice(0, n)), ERRORS_ONLY);
    expect(v.result).toBe('fail');
    expect(v.reason).toMatch(/^candidate error rate \d+\.\d% vs stable 0\.\d% \(evidence \d+ ≥ 100\)$/);
    expect(Number(/evidence (\d+)/.exec(v.reason)?.[1])).toBe(Math.round(v.figures['peakEvidence'] as number));
    expect(v.checks.find((c) => c.name === 'evidence')).toMatchObject({ threshold: 100, result: 'fail' });
  });

  test('a shared incident on both arms in proportion is not a regression', () => {
    const incident = steady(300, (s) => (s >= 100 && s < 160 ? [s % 2, 10] : [s % 40 === 0 ? 1 : 0, s % 2]));
    const v = analyse(input(incident), ERRORS_ONLY);
    expect(v.result).toBe('pass');
  });

  test('a weight change does not reset the evidence: it keeps accumulating across steps', () => {
    // 3 minutes at 5 % then 3 minutes at 25 %, the candidate about 2.5× and then 2× as error-prone as stable.
    // Each step alone reaches E ≈ 24 and 25; the rollout as a whole E ≈ 793 ≥ 100.
    const spread = (every: number, i: number) => Math.floor((i + 1) / every) - Math.floor(i / every);
    const before = steady(180, (s) => [spread(13, s), s % 2], 0, 500);
    const after = Array.from({ length: 180 }, (_, i) =>
      bucket(180 + i, { requests: 75, failingKeys: i % 2 }, { requests: 25, failingKeys: spread(3.4, i) }, 2500),
    );
    const config = ERRORS_ONLY;
    const first = analyse(input(before), config);
    const both = analyse(input([...before, ...after], { weightBp: 2500, weightSinceMs: 180_000 }), config);
    const onlyAfter = analyse(input(after, { weightBp: 2500 }), config);
    // Evidence of the whole rollout is the product of both steps' likelihood ratios per grid point.
    const p = newGridProcess(config.errorGrid, 1);
    for (const b of [...before, ...after]) {
      addEvents(p, b.candidate.requests / (b.candidate.requests + b.stable.requests), b.candidate.failingKeys, b.stable.failingKeys);
    }
    expect(both.figures['errorEvidence']).toBeCloseTo(Math.exp(logEvidence(p)), 6);
    expect(both.figures['errorEvidence']).toBeGreaterThan(first.figures['errorEvidence'] as number);
    expect(both.figures['errorEvidence']).toBeGreaterThan(onlyAfter.figures['errorEvidence'] as number);
    expect([first.result, onlyAfter.result]).not.toContain('fail');
    expect(both.result).toBe('fail');
    expect(both.hold).toBe(false);
  });

  test('the tests also restart at each weight change, so a regression that appears at a later weight does not pay for the clean ones before', () => {
    // 10 clean minutes at 5 % (both fail 0.5 %: the evidence since the start falls far below 1),
    // then 90 s at 50 % where the candidate fails 3× as often as stable.
    const clean = steady(600, (s) => [s % 40 === 0 ? 1 : 0, s % 2 === 0 ? 1 : 0], 0, 500);
    const regressed = Array.from({ length: 90 }, (_, i) => bucket(600 + i, { requests: 50, failingKeys: i % 4 === 0 ? 1 : 0 }, { requests: 50, failingKeys: i % 4 === 0 ? 3 : 0 }, 5000));
    const at = { weightBp: 5000, weightSinceMs: 600_000 };
    const restarting = analyse(input([...clean, ...regressed], at), resolveAnalysisConfig({ latencyEnabled: false }));
    const sinceStartOnly = analyse(input([...clean, ...regressed], at), ERRORS_ONLY);
    expect(restarting.result).toBe('fail');
    expect(restarting.figures['restarts']).toBe(1);
    expect(sinceStartOnly.result).not.toBe('fail');
  });

  test('the since-start tests weigh 1 − restartShare of the average from the first bucket, restarts or not', () => {
    const b = bucket(0, { requests: 1900, failingKeys: 10 }, { requests: 100, failingKeys: 3 });
    const mixed = analyse(input([b]), resolveAnalysisConfig({ latencyEnabled: false, restartShare: 0.2 }));
    const alone = analyse(input([b]), ERRORS_ONLY);
    expect(mixed.figures['errorEvidence']).toBeCloseTo(0.8 * (alone.figures['errorEvidence'] as number), 9);
  });
});

describe('sample-ratio check', () => {
  const skewed = (share: number) =>
    Array.from({ length: 120 }, (_, s) => bucket(s, { requests: Math.round(100 * (1 - share)) }, { requests: Math.round(100 * share) }));

  test('a candidate share far from its weight holds the rollout with a clear reason', () => {
    const v = analyse(input(skewed(0.02)), ERRORS_ONLY);
    expect(v).toMatchObject({ result: 'inconclusive', hold: true });
    expect(v.reason).toMatch(/^candidate share of requests 2\.0% vs weight 5\.0% over the last 2 min \(p = \S+\): stale replicas or a broken split\? holding$/);
  });

  test('a share within chance and tolerance does not hold', () => {
    expect(analyse(input(skewed(0.045)), ERRORS_ONLY)).toMatchObject({ result: 'pass', hold: false });
  });

  test('a step change known per bucket or by weightSinceMs is not a mismatch', () => {
    const old = steady(60, () => [0, 0], 0, 500);
    const now = Array.from({ length: 60 }, (_, i) => bucket(60 + i, { requests: 75 }, { requests: 25 }, 2500));
    expect(analyse(input([...old, ...now], { weightBp: 2500 }), ERRORS_ONLY).hold).toBe(false);
    const unlabeled = [...old, ...now].map(({ weightBp: _w, ...b }) => b);
    expect(analyse(input(unlabeled, { weightBp: 2500 }), ERRORS_ONLY).hold).toBe(true);
    expect(analyse(input(unlabeled, { weightBp: 2500, weightSinceMs: 60_000 }), ERRORS_ONLY).hold).toBe(false);
  });

  test('a failing candidate fails even when the split is off', () => {
    const buckets = skewed(0.02).map((b) => ({ ...b, candidate: { ...b.candidate, errors: 2, failingKeys: 2 } }));
    expect(analyse(input(buckets), ERRORS_ONLY).result).toBe('fail');
  });
});

describe('seeded traffic from the bench simulator', () => {
  function run(seed: number, scenario = BASE_SCENARIO, minutes = 10) {
    const rng = new Rng(seed);
    const baseline = baselineWindow(rng, scenario, 10 * 60_000);
    const users = candidateUsers(rng, scenario);
    const buckets: AnalysisBucket[] = [];
    let checkpoint = null;
    let failedAt: number | null = null;
    let last = null;
    for (let s = 0; s < minutes * 60 && failedAt === null; s++) {
      buckets.push(simulateBucket(rng, scenario, users, s * 1000, 1000));
      if ((s + 1) % 5 !== 0) continue;
      const out = analyseFrom({ now: (s + 1) * 1000, weightBp: scenario.weightBp, baseline, buckets }, DEFAULT_ANALYSIS_CONFIG, checkpoint);
      checkpoint = out.checkpoint;
      last = out.verdict;
      if (last.result === 'fail') failedAt = (s + 1) * 1000;
    }
    return { failedAt, last };
  }

  test('A/A traffic with clustered retries does not fail and ends in a pass', () => {
    for (let seed = 1; seed <= 8; seed++) {
      const { failedAt, last } = run(seed);
      expect(failedAt, `seed ${seed}: ${last?.reason}`).toBeNull();
      expect(last?.result).toBe('pass');
    }
  });

  test('a total failure is rolled back at the first look, 5 s in', () => {
    for (let seed = 1; seed <= 5; seed++) expect(run(seed, { ...BASE_SCENARIO, errorRatio: Infinity }, 1).failedAt).toBe(5_000);
  });

  test('a 5× error regression is rolled back within 5 minutes', () => {
    for (let seed = 1; seed <= 5; seed++) expect(run(seed, { ...BASE_SCENARIO, errorRatio: 5 }, 5).failedAt).not.toBeNull();
  });
});
