import type { Json } from './api-client.js';
import { elapsedSince, fields, heldText, list, obj, str, table } from './format.js';

/**
 * A service's last verdict as a report for the person on call: what it decided
 * and why, when and which rollout it judged, what holds the rollout, then every
 * check beside its threshold with what it means, and the figures behind each.
 * It reads the checks as the API gives them, whichever checks the analysis ran.
 */

/** 3 significant digits, exponent form for very large or very small values; "-" where there is no number. */
export function formatFigure(v: unknown): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '-';
  const abs = Math.abs(v);
  if (abs !== 0 && (abs >= 1e6 || abs < 1e-3)) return v.toExponential(2).replace(/\.?0+e/, 'e').replace('e+', 'e');
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(3)));
}

/** Text the API may leave empty (a check stored before it had a meaning). */
function text(v: unknown): string {
  return typeof v === 'string' && v !== '' ? v : '-';
}

function ago(iso: unknown, now: number): string {
  const elapsed = elapsedSince(iso, now);
  return elapsed === null ? '-' : `${elapsed} ago`;
}

/** The rollout a verdict judged: the API shows a verdict only beside that rollout, so it is the state's. */
function rolloutJudged(s: Json, verdict: Json): string {
  if (typeof verdict['startedAt'] !== 'string') {
    return obj(verdict['shadow']) === null ? 'none named by this verdict' : 'none in progress: only the shadow was judged';
  }
  return `candidate ${str(s['candidate'])} against stable ${str(s['stable'])} (${str(s['strategy'])}), started ${verdict['startedAt']}`;
}

function checksBlock(checks: readonly Json[]): string {
  if (checks.length === 0) return 'checks:   none (no rollout was judged)';
  const rows = checks.map((c) => [str(c['name']), str(c['result']), formatFigure(c['value']), formatFigure(c['threshold']), text(c['meaning'])]);
  const details = checks.map((c) => `  ${str(c['name'])}: ${text(c['detail'])}`);
  return [table(['CHECK', 'RESULT', 'VALUE', 'THRESHOLD', 'MEANING'], rows), '', 'details:', ...details].join('\n');
}

function driftText(drift: Json | null): string {
  if (drift === null) return 'not compared (no shadow.prediction configured)';
  const verdict = drift['flagged'] === true ? (drift['rollback'] === true ? 'flagged, rolls back' : 'flagged') : 'not flagged';
  return `${verdict}: ${text(drift['reason'])}`;
}

function shadowBlock(shadow: Json): string {
  const head = fields([
    ['shadow', `${str(shadow['version'])} ${str(shadow['result'])}: ${text(shadow['reason'])}`],
    ['drift', driftText(obj(shadow['drift']))],
  ]);
  return `${head}\n\n${checksBlock(list(shadow['checks']))}`;
}

/** `s` is the API's service state; its `lastVerdict` is the verdict reported. */
export function formatVerdictReport(s: Json, now: number): string {
  const service = str(s['service']);
  const verdict = obj(s['lastVerdict']);
  if (verdict === null) return `${service}: no verdict yet; the analysis judges a rollout in progress (and a shadow) every analysis.interval`;
  const held = obj(verdict['held']);
  const head = fields([
    ['service', service],
    ['verdict', `${str(verdict['result'])}: ${text(verdict['reason'])}`],
    ['judged', `${str(verdict['at'])} (${ago(verdict['at'], now)})`],
    ['rollout', rolloutJudged(s, verdict)],
    ['held', held === null ? 'no' : heldText(held, now)],
  ]);
  const shadow = obj(verdict['shadow']);
  return [head, '', checksBlock(list(verdict['checks'])), ...(shadow === null ? [] : ['', shadowBlock(shadow)])].join('\n');
}
