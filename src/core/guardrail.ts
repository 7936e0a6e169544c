import { readJsonField, type FieldPath } from './field-path.js';

/**
 * Prediction guardrails: a numeric field of a model's JSON answer must stay
 * within a range. Pure: the proxy hands in the buffered body.
 */

export type GuardrailAction = 'count' | 'serve-stable' | 'constant';

export interface GuardrailRule {
  /** `score`, `predictions[0].score`: object keys and array indexes, as parsed by parseFieldPath. */
  readonly path: FieldPath;
  readonly field: string;
  readonly min: number;
  readonly max: number;
}

/** Null when the answer is within the rule; otherwise why it is not. */
export function violation(body: string, rule: GuardrailRule): string | null {
  const read = readJsonField(body, rule.path);
  if (!read.found) return read.reason === 'not-json' ? 'answer is not JSON' : `answer has no ${rule.field}`;
  const node = read.value;
  if (typeof node !== 'number' || !Number.isFinite(node)) return `answer has no numeric ${rule.field}`;
  if (node < rule.min || node > rule.max) return `${rule.field} = ${node} is outside ${rule.min}..${rule.max}`;
  return null;
}
