/**
 * Field paths: `predictions[0].score` into a model's JSON answer (guardrails,
 * shadow predictions), and `steps[2].weight` in the messages that name a bad
 * field of a config file or a request body.
 */

export type FieldPath = readonly (string | number)[];

const SEGMENT = /([^.[\]]+)|\[(\d+)\]/g;

/** Parses `predictions[0].score`; null when the text is not such a path. */
export function parseFieldPath(text: string): (string | number)[] | null {
  if (!/^[^.[\]]+(\.[^.[\]]+|\[\d+\])*$/.test(text)) return null;
  const path: (string | number)[] = [];
  for (const match of text.matchAll(SEGMENT)) path.push(match[2] === undefined ? (match[1] as string) : Number(match[2]));
  return path;
}

/** `services.fraud-scorer.rollout.steps[2].weight` from path segments; `root` for the empty path. */
export function formatFieldPath(path: readonly PropertyKey[], root: string): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : `${out === '' ? '' : '.'}${String(part)}`;
  return out || root;
}

/** What a JSON answer holds at a path: the value, or that the answer is not JSON or has nothing there. */
export type JsonFieldRead = { readonly found: true; readonly value: unknown } | { readonly found: false; readonly reason: 'not-json' | 'missing' };

/**
 * The value at `path` in a JSON text. Only the document's own properties are
 * read: a path through `__proto__`, `constructor` or `prototype` finds nothing
 * instead of reaching the object's prototype.
 */
export function readJsonField(text: string, path: FieldPath): JsonFieldRead {
  let node: unknown;
  try {
    node = JSON.parse(text);
  } catch {
    return { found: false, reason: 'not-json' };
  }
  for (const segment of path) {
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, segment)) return { found: false, reason: 'missing' };
    node = (node as Record<string | number, unknown>)[segment];
  }
  return { found: true, value: node };
}
