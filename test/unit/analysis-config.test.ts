import { describe, expect, test } from 'vitest';
import { DEFAULT_ANALYSIS_CONFIG, resolveAnalysisConfig, validateAnalysisConfig } from '../../src/core/analysis/config.js';
import { isSwitchyardError } from '../../src/core/errors.js';

function problemsOf(override: Record<string, unknown>): string[] {
  try {
    resolveAnalysisConfig(override);
  } catch (err) {
    if (isSwitchyardError(err) && err.code === 'SY_ERR_CONFIG') return err.details?.['problems'] as string[];
    throw err;
  }
  return [];
}

describe('analysis config', () => {
  test('the defaults are valid and follow docs/analysis.md ("Defaults and why"): α 0.01, grid 1.25..20, 5 canary events', () => {
    expect(validateAnalysisConfig({ ...DEFAULT_ANALYSIS_CONFIG })).toEqual([]);
    expect(DEFAULT_ANALYSIS_CONFIG).toMatchObject({ alpha: 0.01, minCandidateEvents: 5, errorGrid: [1.25, 1.5, 2, 3, 5, 10, 20] });
    expect(Object.isFrozen(DEFAULT_ANALYSIS_CONFIG)).toBe(true);
    expect(Object.isFrozen(DEFAULT_ANALYSIS_CONFIG.errorGrid)).toBe(true);
  });

  test('an override changes only the fields it names; undefined fields keep the default', () => {
    const config = resolveAnalysisConfig({ alpha: 0.05, latencyEnabled: false, minCandidateRequests: undefined });
    expect(config).toEqual({ ...DEFAULT_ANALYSIS_CONFIG, alpha: 0.05, latencyEnabled: false });
    expect(resolveAnalysisConfig()).toEqual(DEFAULT_ANALYSIS_CONFIG);
  });

  test('an override can be laid over another base, and the result is frozen and detached', () => {
    const grid = [2, 4];
    const base = resolveAnalysisConfig({ errorGrid: grid });
    grid.push(8);
    const config = resolveAnalysisConfig({ alpha: 0.02 }, base);
    expect(config.errorGrid).toEqual([2, 4]);
    expect(config.alpha).toBe(0.02);
    expect(Object.isFrozen(config) && Object.isFrozen(config.errorGrid)).toBe(true);
  });

  test('every bad field is reported at once, by name', () => {
    const problems = problemsOf({ alpha: 2, errorGrid: [0.5, 2], minCandidateEvents: 1.5, absoluteWindowMs: '60s', bogus: 1 });
    expect(problems).toHaveLength(5);
    expect(problems).toEqual(
      expect.arrayContaining([
        'bogus: Unrecognized key "bogus"',
        'alpha: must be a probability in (0, 1)',
        expect.stringMatching(/^errorGrid: every ratio must be above errorMargin \(1\) and at most 1000; got 0.5$/),
        'minCandidateEvents: must be an integer ≥ 1',
        'absoluteWindowMs: must be an integer ≥ 1',
      ]),
    );
  });

  test('exceedance grids must respect r ≤ 1/(1 − q), and every grid must lie above its margin', () => {
    expect(problemsOf({ latencyGridP50: [1.5, 3] })).toEqual(['latencyGridP50: every ratio must be above latencyMargin (1) and at most 2; got 3']);
    expect(problemsOf({ errorMargin: 1.5 })).toEqual(['errorGrid: every ratio must be above errorMargin (1.5) and at most 1000; got 1.25']);
    expect(problemsOf({ errorMargin: 1.5, errorGrid: [2, 3] })).toEqual([]);
  });
});
