import { z } from 'zod';
import { planProblems, type PlanSource, type StepInput } from '../core/plan.js';
import { isValidPercent, isValidShadowPercent, percentToBp, SHADOW_PERCENT_RULE, WEIGHT_RULE } from '../core/weight.js';
import { DURATION_RULE, durationProblem, parseDuration } from './duration.js';

/**
 * The fields of a rollout plan as the config file and the admin API both take
 * them, so a step gets the same messages in both. The plan's rules themselves
 * are src/core/plan.ts; `checkPlan` hands them the parsed steps.
 */

/** A zod error map: `required` for a missing value, `message` for one of the wrong type. */
export const required = (message: string) => (issue: { input?: unknown }) => (issue.input === undefined ? 'required' : message);

/** `500ms`, `30s`, `5m`, `1h` or `7d`, as milliseconds. */
export const durationMs = z.string({ error: required(DURATION_RULE) }).transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === null) {
    ctx.addIssue({ code: 'custom', message: durationProblem(text) });
    return z.NEVER;
  }
  return ms;
});

/** A weight: a percent 0..100 with at most two decimals. */
export const weightPercent = z.number({ error: required(WEIGHT_RULE) }).refine(isValidPercent, { error: WEIGHT_RULE });

/** A share of sticky keys mirrored to a shadow: 0.01..100. */
export const shadowPercent = z.number({ error: required(SHADOW_PERCENT_RULE) }).refine(isValidShadowPercent, { error: SHADOW_PERCENT_RULE });

/** `{weight, bake}` gives the candidate live traffic; `{shadow, bake}` only mirrors traffic to it. */
export const stepSchema = z.strictObject({ weight: weightPercent.optional(), shadow: shadowPercent.optional(), bake: durationMs.prefault('1m') }).transform(
  (s): StepInput => ({
    ...(s.weight === undefined ? {} : { weightBp: percentToBp(s.weight) }),
    ...(s.shadow === undefined ? {} : { shadowBp: percentToBp(s.shadow) }),
    bakeMs: s.bake,
  }),
);

/**
 * The plan's problems, as issues of the object that holds `steps` (a config
 * `rollout`, a start body), so each names its step and field. Give it
 * `{ when: stepsParsed }`: a step with a bad field is reported by that field alone.
 */
export function checkPlan(source: PlanSource) {
  return (holder: { readonly steps?: readonly StepInput[] | undefined }, ctx: z.RefinementCtx): void => {
    if (holder.steps === undefined) return;
    for (const problem of planProblems(holder.steps, source)) ctx.addIssue({ code: 'custom', path: [...problem.path], message: problem.message });
  };
}

/** True once the holder and every step parsed (no issue under `steps`), so the plan's rules see real steps. */
export function stepsParsed(payload: z.core.ParsePayload): boolean {
  const holder = payload.value;
  return typeof holder === 'object' && holder !== null && payload.issues.every((issue) => issue.path?.[0] !== 'steps');
}
