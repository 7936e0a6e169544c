import type { DriftConfig } from './drift-config.js';
import type { PredictionKind } from './prediction.js';

/**
 * The one line an operator reads about a shadow's predictions: the decision,
 * the disagreement rate with its interval and tolerance; for scores the size of
 * the differences, each side's share of scores outside [0, 1] when there are
 * any, and PSI against its noise floor; and the evidence.
 */
export interface ReasonInput {
  readonly kind: PredictionKind;
  readonly config: DriftConfig;
  readonly figures: Readonly<Record<string, number>>;
  readonly flagged: boolean;
  readonly rollback: boolean;
  /** The test with more evidence now. */
  readonly leader: 'disagreement' | 'distribution';
}

export function driftReason(r: ReasonInput): string {
  const f = r.figures;
  const c = r.config;
  const get = (name: string) => f[name] ?? Number.NaN;
  const head = r.rollback ? 'prediction drift (rollback)'
    : r.flagged ? `prediction drift (${c.action === 'rollback' ? 'flag: effect below the rollback bar' : c.action})`
    : 'no prediction drift shown';
  const what = r.kind === 'score' ? `disagrees with stable (|Δ| > ${num(c.scoreTolerance)})` : 'disagrees with stable';
  const parts = [
    `shadow ${what} on ${pct(get('disagreementRate'))} of ${get('pairs').toLocaleString('en-US')} pairs ` +
      `(95% CI ${pct(get('disagreementLow'))}–${pct(get('disagreementHigh'))}, tolerated ${pct(c.maxDisagreement)})`,
  ];
  if (r.kind === 'score') {
    const shift = get('meanDiff');
    parts[0] += `, mean |Δ| ${num(get('meanAbsDiff'))}, p95 |Δ| ${num(get('p95AbsDiff'))}, mean shift ${shift > 0 ? '+' : ''}${num(shift)}`;
    if (get('stableOutOfRange') > 0 || get('shadowOutOfRange') > 0) {
      parts.push(`scores outside [0, 1]: shadow ${pct(get('shadowOutOfRange'))}, stable ${pct(get('stableOutOfRange'))}`);
    }
    if ('psi' in f) parts.push(`PSI ${num(get('psi'))} (noise floor ${num(get('psiNoiseFloor'))}, critical ${num(get('psiCritical'))}, major above ${num(c.psiTolerance)})`);
  }
  const e = get('eValue');
  const lead = r.flagged && r.kind === 'score' ? `, led by the ${r.leader === 'distribution' ? 'score distributions' : 'paired disagreements'}` : '';
  parts.push(`evidence ${num(e)} ${r.flagged ? '≥' : '<'} ${num(get('evidenceThreshold'))}${lead}`);
  return `${head}: ${parts.join('; ')}`;
}

function num(x: number): string {
  if (!Number.isFinite(x)) return 'n/a';
  if (x !== 0 && (Math.abs(x) >= 1e6 || Math.abs(x) < 1e-3)) return x.toExponential(1);
  if (Math.abs(x) >= 100) return String(Math.round(x));
  return String(Number(x.toPrecision(Math.abs(x) >= 10 ? 3 : 2)));
}

function pct(x: number): string {
  return Number.isFinite(x) ? `${(x * 100).toFixed(x !== 0 && x < 0.001 ? 2 : 1)}%` : 'n/a';
}
