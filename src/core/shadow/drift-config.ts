/**
 * How a shadow's prediction drift is judged (drift.ts). Field names are plain
 * so a YAML schema can mirror them one to one; the defaults follow
 * docs/analysis.md, The statistics (α = 0.01, drift holds rather
 * than rolls back, PSI 0.25 is a major shift).
 */

export type DriftAction = 'flag' | 'hold' | 'rollback';

export interface DriftConfig {
  /** False-flag budget of the shadow launch (1/α is the evidence threshold). */
  readonly alpha: number;
  /** Disagreement rate tolerated (H0 of the paired test), 0 < p0 < 1. */
  readonly maxDisagreement: number;
  /** Scores: |Δ| above this is a disagreement. */
  readonly scoreTolerance: number;
  /** Scores: PSI above this is a major shift (the rule of thumb's 0.25), a condition of rollback. */
  readonly psiTolerance: number;
  /** What a flag asks of the rollout; 'rollback' still needs a large effect (drift.ts). */
  readonly action: DriftAction;
}

export const DEFAULT_DRIFT_CONFIG: DriftConfig = Object.freeze({
  alpha: 0.01,
  maxDisagreement: 0.05,
  scoreTolerance: 0.05,
  psiTolerance: 0.25,
  action: 'hold',
});

/** Every problem of a drift config, each as `field: message`; empty when it is valid. */
export function validateDriftConfig(config: DriftConfig): string[] {
  const problems: string[] = [];
  const check = (field: keyof DriftConfig, ok: boolean, message: string) => {
    if (!ok) problems.push(`${field}: ${message}`);
  };
  const inUnit = (v: number) => Number.isFinite(v) && v > 0 && v < 1;
  check('alpha', inUnit(config.alpha), 'must be a probability in (0, 1)');
  check('maxDisagreement', inUnit(config.maxDisagreement), 'must be a rate in (0, 1)');
  check('scoreTolerance', Number.isFinite(config.scoreTolerance) && config.scoreTolerance >= 0, 'must be ≥ 0');
  check('psiTolerance', Number.isFinite(config.psiTolerance) && config.psiTolerance > 0, 'must be > 0');
  check('action', ['flag', 'hold', 'rollback'].includes(config.action), "must be 'flag', 'hold' or 'rollback'");
  return problems;
}
