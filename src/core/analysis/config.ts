import { deepFreeze } from '../deep-freeze.js';
import { SwitchyardError } from '../errors.js';
import { didYouMean } from '../nearest-name.js';

/**
 * Every threshold of the detector, overridable per service. Field names are
 * plain so the YAML schema can mirror them one to one; durations are in ms.
 * The statistics behind each default: docs/analysis.md, The statistics
 */
export interface AnalysisConfig {
  /** False-rollback budget for the whole rollout, all metrics and steps. */
  readonly alpha: number;
  /** Share of the evidence average given to errors when latency is judged too; latency gets the rest. */
  readonly errorShare: number;
  /**
   * Share of the evidence average given to the tests restarted at each weight change (half of what is
   * left to each, the first one half of it); the tests since the rollout started get the rest. 0: no restarts.
   */
  readonly restartShare: number;
  /** Error-rate ratios the error e-process mixes over. */
  readonly errorGrid: readonly number[];
  /** Tolerated error-rate ratio r0: H0 is "candidate ≤ r0 × stable"; 1 is strict. */
  readonly errorMargin: number;
  /** Count distinct failing sticky keys per bucket, not raw errors, so retries do not count twice. */
  readonly dedupByKey: boolean;
  /** Canary events (failing keys, or exceedances of one threshold) a metric needs before it may fail. */
  readonly minCandidateEvents: number;
  /** Candidate requests since the rollout started before any pass. */
  readonly minCandidateRequests: number;
  readonly latencyEnabled: boolean;
  /** Exceedance ratios mixed over at the stable p50, p90 and p99; each must stay ≤ 1/(1 − q). */
  readonly latencyGridP50: readonly number[];
  readonly latencyGridP90: readonly number[];
  readonly latencyGridP99: readonly number[];
  /** Tolerated exceedance ratio r0 at every threshold; 1 is strict. */
  readonly latencyMargin: number;
  /** Stable requests the thresholds are read from; without that many before the rollout, the first ones during it. */
  readonly latencyBaselineMinRequests: number;
  /** Latency (not errors) is ignored this long after the rollout starts and after each known weight change. */
  readonly latencyWarmupMs: number;
  /** mSPRT on mean log-latency: mixing scale τ (ln 1.1), tolerated ratio of geometric means, burn-in. */
  readonly msprtTau: number;
  readonly msprtMargin: number;
  readonly msprtBurnIn: number;
  /** Absolute guard: candidate error ratio over the window, minimum requests. */
  readonly absoluteErrorRate: number;
  readonly absoluteMinRequests: number;
  readonly absoluteWindowMs: number;
  /** Sample-ratio check: two-sided z-test p-value, relative tolerance, window, minimum expected requests per arm. */
  readonly srmAlpha: number;
  readonly srmTolerance: number;
  readonly srmWindowMs: number;
  readonly srmMinExpected: number;
}

export const DEFAULT_ANALYSIS_CONFIG: AnalysisConfig = deepFreeze({
  alpha: 0.01,
  errorShare: 0.5,
  restartShare: 0.2,
  errorGrid: [1.25, 1.5, 2, 3, 5, 10, 20],
  errorMargin: 1,
  dedupByKey: true,
  minCandidateEvents: 5,
  minCandidateRequests: 100,
  latencyEnabled: true,
  latencyGridP50: [1.05, 1.1, 1.2, 1.4, 1.8],
  latencyGridP90: [1.1, 1.25, 1.5, 2, 3, 5],
  latencyGridP99: [1.25, 1.5, 2, 3, 5, 10, 20],
  latencyMargin: 1,
  latencyBaselineMinRequests: 1000,
  latencyWarmupMs: 30_000,
  msprtTau: Math.log(1.1),
  msprtMargin: 1.05,
  msprtBurnIn: 200,
  absoluteErrorRate: 0.5,
  absoluteMinRequests: 10,
  absoluteWindowMs: 60_000,
  srmAlpha: 1e-6,
  srmTolerance: 0.2,
  srmWindowMs: 120_000,
  srmMinExpected: 10,
});

type Rule = (value: unknown, config: Record<string, unknown>) => string | null;

const num = (test: (v: number) => boolean, message: string): Rule => (v) =>
  typeof v === 'number' && Number.isFinite(v) && test(v) ? null : message;
const int = (min: number): Rule => num((v) => Number.isInteger(v) && v >= min, `must be an integer ≥ ${min}`);
const flag: Rule = (v) => (typeof v === 'boolean' ? null : 'must be true or false');
const grid = (marginField: string, max: number): Rule => (v, c) => {
  const margin = typeof c[marginField] === 'number' ? (c[marginField] as number) : 1;
  if (!Array.isArray(v) || v.length === 0) return 'must be a non-empty list of ratios';
  const bad = v.find((r) => typeof r !== 'number' || !Number.isFinite(r) || r <= margin || r > max);
  return bad === undefined ? null : `every ratio must be above ${marginField} (${margin}) and at most ${max}; got ${String(bad)}`;
};

const RULES: Record<keyof AnalysisConfig, Rule> = {
  alpha: num((v) => v > 0 && v < 1, 'must be a probability in (0, 1)'),
  errorShare: num((v) => v > 0 && v <= 1, 'must be in (0, 1]'),
  restartShare: num((v) => v >= 0 && v < 1, 'must be in [0, 1)'),
  errorGrid: grid('errorMargin', 1000),
  errorMargin: num((v) => v >= 1, 'must be a ratio ≥ 1'),
  dedupByKey: flag,
  minCandidateEvents: int(1),
  minCandidateRequests: int(1),
  latencyEnabled: flag,
  latencyGridP50: grid('latencyMargin', 2),
  latencyGridP90: grid('latencyMargin', 10),
  latencyGridP99: grid('latencyMargin', 100),
  latencyMargin: num((v) => v >= 1, 'must be a ratio ≥ 1'),
  latencyBaselineMinRequests: int(100),
  latencyWarmupMs: int(0),
  msprtTau: num((v) => v > 0, 'must be > 0'),
  msprtMargin: num((v) => v >= 1, 'must be a ratio ≥ 1'),
  msprtBurnIn: int(2),
  absoluteErrorRate: num((v) => v > 0 && v <= 1, 'must be in (0, 1]'),
  absoluteMinRequests: int(1),
  absoluteWindowMs: int(1),
  srmAlpha: num((v) => v > 0 && v < 1, 'must be a probability in (0, 1)'),
  srmTolerance: num((v) => v >= 0, 'must be ≥ 0'),
  srmWindowMs: int(1),
  srmMinExpected: num((v) => v > 0, 'must be > 0'),
};

/** Every problem of a config, each as `field: message`; empty when it is valid. */
export function validateAnalysisConfig(config: Readonly<Record<string, unknown>>): string[] {
  const known = Object.keys(RULES);
  const problems = Object.keys(config)
    .filter((field) => !Object.hasOwn(RULES, field))
    .map((field) => `${field}: Unrecognized key "${field}"${didYouMean(field, known)}`);
  for (const [field, rule] of Object.entries(RULES)) {
    const message = rule(config[field], config);
    if (message !== null) problems.push(`${field}: ${message}`);
  }
  return problems;
}

/**
 * Lays a partial override (a service's `analysis` section) over `base` and
 * returns the frozen result; throws SY_ERR_CONFIG listing every bad field.
 */
export function resolveAnalysisConfig(
  override: Readonly<Partial<Record<keyof AnalysisConfig, unknown>>> = {},
  base: AnalysisConfig = DEFAULT_ANALYSIS_CONFIG,
): AnalysisConfig {
  const defined = Object.fromEntries(Object.entries(override).filter(([, v]) => v !== undefined));
  const merged: Record<string, unknown> = { ...base, ...defined };
  const problems = validateAnalysisConfig(merged);
  if (problems.length > 0) {
    throw new SwitchyardError('SY_ERR_CONFIG', `invalid analysis config: ${problems.join('; ')}`, { problems });
  }
  const copy = { ...merged } as Record<string, unknown>;
  for (const [k, v] of Object.entries(copy)) if (Array.isArray(v)) copy[k] = [...(v as number[])];
  return deepFreeze(copy as unknown as AnalysisConfig);
}
