import { formatFieldPath, type FieldPath } from './field-path.js';
import type { Step, Strategy } from './rollout-state.js';
import { bpToPercent, isValidShadowBp, isValidWeightBp, MAX_WEIGHT_BP, SHADOW_PERCENT_RULE, WEIGHT_RULE } from './weight.js';

/**
 * The one home of a rollout plan's rules, whoever holds the plan: the config
 * schema (a service's `rollout.steps`), the admin API's start body and the
 * start transition all ask `planProblems`, so the same steps get the same
 * message everywhere. A step is `{weight, bake}` (live traffic) or
 * `{shadow, bake}` (traffic mirrored to the candidate, none served by it).
 * Weights never decrease, so raising a step never moves a user back; shadow
 * steps come first and a weighted step follows them, or the last shadow step
 * would promote a version that never answered a client.
 */

/** A step as written, before it becomes a Step: a weight or a shadow share in basis points, the bake in ms. */
export interface StepInput {
  readonly weightBp?: number;
  readonly shadowBp?: number;
  readonly bakeMs: number;
}

/** One broken rule: the field it is about, relative to the plan (`['steps', 2, 'weight']`), and what is wrong. */
export interface PlanProblem {
  readonly path: FieldPath;
  readonly message: string;
}

/**
 * Where the steps come from. In the config no steps is a manual canary; a
 * command that gives steps gives at least one (an empty list would silently
 * drop the configured plan).
 */
export type PlanSource = 'config' | 'command';

export const MAX_STEPS = 100;

const NO_STEPS = 'give at least one step, or leave steps out; to start a manual canary give a weight instead';
const NEITHER = 'give weight (live traffic) or shadow (mirrored traffic)';
const BOTH = 'a step is either {weight, bake} or {shadow, bake}, not both';
const BAKE = 'must be a duration of 0 or more';
const SHADOW_AFTER_WEIGHTED = 'shadow steps come before the first weighted step';
const ENDS_IN_SHADOW = 'a weighted step must follow the shadow steps, or the last one would promote a version no client has used';

/** Every broken rule of a list of steps, in step order; empty when the plan is good. */
export function planProblems(steps: readonly StepInput[], source: PlanSource): PlanProblem[] {
  const problems: PlanProblem[] = [];
  if (steps.length === 0 && source === 'command') problems.push({ path: ['steps'], message: NO_STEPS });
  if (steps.length > MAX_STEPS) problems.push({ path: ['steps'], message: `at most ${MAX_STEPS} steps` });
  let floorBp: number | undefined;
  steps.forEach((step, i) => {
    problems.push(...stepProblems(step, i, floorBp));
    if (step.shadowBp === undefined && step.weightBp !== undefined && isValidWeightBp(step.weightBp)) floorBp = step.weightBp;
  });
  const last = steps.at(-1);
  if (last !== undefined && kindOf(last) === 'shadow') problems.push({ path: ['steps'], message: ENDS_IN_SHADOW });
  return problems;
}

type StepKind = 'weighted' | 'shadow' | 'neither' | 'both';

function kindOf(step: StepInput): StepKind {
  if (step.weightBp !== undefined) return step.shadowBp === undefined ? 'weighted' : 'both';
  return step.shadowBp === undefined ? 'neither' : 'shadow';
}

/** The step's own problems, then its place in the plan; `floorBp` is the weight of the nearest good weighted step before it. */
function stepProblems(step: StepInput, i: number, floorBp: number | undefined): PlanProblem[] {
  const at = (field?: string): FieldPath => (field === undefined ? ['steps', i] : ['steps', i, field]);
  const kind = kindOf(step);
  if (kind === 'neither') return [{ path: at(), message: NEITHER }];
  if (kind === 'both') return [{ path: at('shadow'), message: BOTH }];
  const problems: PlanProblem[] = [];
  if (step.weightBp !== undefined && !isValidWeightBp(step.weightBp)) problems.push({ path: at('weight'), message: WEIGHT_RULE });
  if (step.shadowBp !== undefined && !isValidShadowBp(step.shadowBp)) problems.push({ path: at('shadow'), message: SHADOW_PERCENT_RULE });
  if (!Number.isFinite(step.bakeMs) || step.bakeMs < 0) problems.push({ path: at('bake'), message: BAKE });
  if (floorBp === undefined) return problems;
  if (kind === 'shadow') problems.push({ path: at('shadow'), message: SHADOW_AFTER_WEIGHTED });
  else if (step.weightBp !== undefined && isValidWeightBp(step.weightBp) && step.weightBp < floorBp) {
    problems.push({ path: at('weight'), message: `step weights must not decrease (${bpToPercent(step.weightBp)}% after ${bpToPercent(floorBp)}%)` });
  }
  return problems;
}

/** The step a rollout runs; a shadow step gets weight 0. For steps `planProblems` passed. */
export function toStep(input: StepInput): Step {
  if (input.shadowBp === undefined) return { weightBp: input.weightBp ?? 0, bakeMs: input.bakeMs };
  return { weightBp: 0, bakeMs: input.bakeMs, shadowBp: input.shadowBp };
}

/** A Step as written: the weight 0 a shadow step carries is not a weight. */
export function toStepInput(step: Step): StepInput {
  if (step.shadowBp === undefined) return { weightBp: step.weightBp, bakeMs: step.bakeMs };
  if (step.weightBp === 0) return { shadowBp: step.shadowBp, bakeMs: step.bakeMs };
  return { weightBp: step.weightBp, shadowBp: step.shadowBp, bakeMs: step.bakeMs };
}

/** `steps[2].weight: step weights must not decrease (10% after 20%)`, problems joined by `; `. */
function describeProblems(problems: readonly PlanProblem[]): string {
  return problems.map((p) => `${formatFieldPath(p.path, 'plan')}: ${p.message}`).join('; ');
}

export interface StartPlanInput {
  readonly strategy: Strategy;
  /** The steps the start command gave, if any. */
  readonly steps?: readonly Step[] | undefined;
  /** The steps the service has (from its config), used when the command gives none. */
  readonly configured: readonly Step[];
  /** A weight in the command: a manual canary at that weight. */
  readonly weightBp?: number | undefined;
}

export type StartPlan = { readonly ok: true; readonly steps: readonly Step[]; readonly weightBp: number } | { readonly ok: false; readonly why: string };

/**
 * The steps and first weight of a start, or why it cannot start (said after
 * "service X"). A weight in the command starts a manual canary at that weight
 * (the configured steps are not used); a canary with no steps anywhere is a
 * manual canary at weight 0; a canary with steps starts at its first step's
 * weight; a blue-green rollout starts warm at weight 0 and moves with switch.
 */
export function startPlan(input: StartPlanInput): StartPlan {
  if (input.weightBp !== undefined) {
    if (input.strategy === 'blue-green') return { ok: false, why: 'got a weight for a blue-green rollout, which starts at weight 0 and moves with switch' };
    if ((input.steps?.length ?? 0) > 0) return { ok: false, why: 'got both steps (a plan the analysis advances) and a weight (a manual canary); give one' };
    if (!isValidWeightBp(input.weightBp)) return { ok: false, why: `got weight ${input.weightBp} bp, outside 0..${MAX_WEIGHT_BP}` };
    return { ok: true, steps: [], weightBp: input.weightBp };
  }
  const steps = input.steps ?? input.configured;
  const problems = planProblems(steps.map(toStepInput), input.steps === undefined ? 'config' : 'command');
  if (problems.length > 0) return { ok: false, why: `got an invalid plan: ${describeProblems(problems)}` };
  return { ok: true, steps, weightBp: input.strategy === 'canary' ? (steps[0]?.weightBp ?? 0) : 0 };
}
