import { z } from 'zod';
import type { Verdict } from '../../core/rollout-state.js';

/**
 * The stored verdict is JSON, which has no NaN or ±Infinity (a ratio against a
 * stable error rate of 0 is ∞). They travel as the strings "NaN", "Infinity" and
 * "-Infinity", accepted back only where a number belongs, so a verdict reads back
 * as the memory store would return it.
 */
const number = z.union([z.number(), z.enum(['NaN', 'Infinity', '-Infinity']).transform(Number)]);
const result = z.enum(['pass', 'fail', 'inconclusive']);

/** `meaning` is new: a check stored before it existed reads back with an empty one. */
const checks = z.array(z.object({ name: z.string(), value: number.nullable(), threshold: number, result, detail: z.string(), meaning: z.string().default('') }));
const figures = z.record(z.string(), number);

/** The shadow's verdict of the same round (rollout-state.ts ShadowVerdict). */
const shadowSchema = z.object({
  version: z.string(),
  result,
  reason: z.string(),
  checks,
  figures,
  drift: z.object({ flagged: z.boolean(), rollback: z.boolean(), reason: z.string(), figures }).nullable(),
});

const verdictSchema = z.object({
  result,
  reason: z.string(),
  at: number,
  hold: z.boolean(),
  checks,
  figures,
  shadow: shadowSchema.nullish(),
  startedAt: number.nullish(),
  held: z.object({ kind: z.enum(['sample-ratio', 'shadow-drift']), reason: z.string(), since: number }).nullish(),
});

export function encodeVerdict(verdict: Verdict): string {
  return JSON.stringify(verdict, (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? String(value) : value));
}

/** The stored verdict, or null when it is not one (corrupt, or lacking a field a verdict needs); unknown extra fields are dropped. */
export function decodeVerdict(json: string): Verdict | null {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    return null;
  }
  const parsed = verdictSchema.safeParse(raw);
  return parsed.success ? parsed.data : null;
}
