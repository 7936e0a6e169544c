import { parseFieldPath, readJsonField, type FieldPath } from '../field-path.js';

/**
 * The prediction a shadow comparison reads from a model's JSON answer. Pure:
 * the mirror path hands in the buffered body of each side of a pair.
 *
 * - `label`: a class; a string, number or boolean, compared as its string form
 *   (`true` and `"true"`, `1` and `1.0` are the same label).
 * - `score`: a finite JSON number (a numeric string is not a score).
 */

export type PredictionKind = 'label' | 'score';

export type Prediction = string | number;

export interface PredictionRule {
  /** `score`, `predictions[0].label`: object keys and array indexes, as parsed by parseFieldPath. */
  readonly path: FieldPath;
  /** The path as configured, for messages. */
  readonly field: string;
  readonly kind: PredictionKind;
}

/** The rule for a configured field path; null when the text is not such a path. */
export function predictionRule(field: string, kind: PredictionKind): PredictionRule | null {
  const path = parseFieldPath(field);
  return path === null ? null : { path, field, kind };
}

/** The prediction in `body`, or null when the answer is not JSON or has no usable value at the path. */
export function readPrediction(body: string, rule: PredictionRule): Prediction | null {
  const read = readJsonField(body, rule.path);
  if (!read.found) return null;
  const node = read.value;
  if (rule.kind === 'score') return typeof node === 'number' && Number.isFinite(node) ? node : null;
  if (typeof node === 'string' || typeof node === 'boolean') return String(node);
  return typeof node === 'number' && Number.isFinite(node) ? String(node) : null;
}
