/**
 * Prediction guardrails: a numeric field of a model's JSON answer must stay
 * within a range. Pure: the proxy hands in the buffered body.
 */

export type GuardrailAction = 'count' | 'serve-stable' | 'constant';

export interface GuardrailRule {
  /** `score`, `predictions[0].score`: object keys and array indexes. */
  readonly path: readonly (string | number)[];
  readonly field: string;
  readonly min: number;
  readonly max: number;
}

const SEGMENT = /([^.[\]]+)|\[(\d+)\]/g;

/** Parses `predictions[0].score`; null when the text is not such a path. */
export function parseFieldPath(text: string): (string | number)[] | null {
  if (!/^[^.[\]]+(\.[^.[\]]+|\[\d+\])*$/.test(text)) return null;
  const path: (string | number)[] = [];
  for (const match of text.matchAll(SEGMENT)) path.push(match[2] === undefined ? (match[1] as string) : Number(match[2]));
  return path;
}

/** Null when the answer is within the rule; otherwise why it is not. */
export function violation(body: string, rule: GuardrailRule): string | null {
  let node: unknown;
  try {
    node = JSON.parse(body);
  } catch {
    return 'answer is not JSON';
  }
  for (const segment of rule.path) {
    if (node === null || typeof node !== 'object') return `answer has no ${rule.field}`;
    node = (node as Record<string | number, unknown>)[segment];
  }
  if (typeof node !== 'number' || !Number.isFinite(node)) return `answer has no numeric ${rule.field}`;
  if (node < rule.min || node > rule.max) return `${rule.field} = ${node} is outside ${rule.min}..${rule.max}`;
  return null;
}
