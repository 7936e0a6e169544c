import { CONTROL_RULES, type ControlRule } from './control-rules.js';
import type { ErrorCode } from './errors.js';
import { startPlan } from './plan.js';
import { isValidShadowBp, isValidWeightBp, MAX_WEIGHT_BP } from './weight.js';
import { isActive, isShadowStep, shadowSalt, type RolloutState, type ShadowState, type Step, type Strategy } from './rollout-state.js';

/** Operator commands; analysis verdicts and alerts arrive as the same commands with another actor. */
export type RolloutCommand =
  /** With `weightBp` (and no steps) a manual canary at that weight; with no steps anywhere, a manual canary at 0. */
  | { readonly type: 'start'; readonly candidate: string; readonly strategy?: Strategy; readonly steps?: readonly Step[]; readonly salt?: string; readonly weightBp?: number }
  | { readonly type: 'set-weight'; readonly weightBp: number }
  | { readonly type: 'pause' }
  | { readonly type: 'resume' }
  | { readonly type: 'promote' }
  /** The analysis moves a canary to its next step, or promotes after the last one. */
  | { readonly type: 'advance' }
  | { readonly type: 'rollback' }
  | { readonly type: 'switch' }
  /** Mirror `sampleBp` of sticky keys to `version` (sets or replaces the service's one shadow). */
  | { readonly type: 'shadow'; readonly version: string; readonly sampleBp: number }
  | { readonly type: 'shadow-stop' };

export type CommandType = RolloutCommand['type'];

export interface TransitionContext {
  /** The versions the service has in its configuration. */
  readonly versions: readonly string[];
  readonly now: number;
  readonly reason: string | null;
}

export interface Refusal {
  readonly code: ErrorCode;
  readonly message: string;
}

export type TransitionResult =
  /** `rule`: the control rule (src/core/control-rules.ts) this transition applied, for the audit entry. */
  | { readonly ok: true; readonly state: RolloutState; readonly rule: string | null }
  | { readonly ok: false; readonly refusal: Refusal };

/** What `decide` hands back: the next state and the control rule it applied, if any. */
type Decision = { readonly ok: true; readonly state: RolloutState; readonly rule?: ControlRule } | { readonly ok: false; readonly refusal: Refusal };

const VERB: Record<CommandType, string> = {
  start: 'start a rollout',
  'set-weight': 'set weight',
  pause: 'pause',
  resume: 'resume',
  promote: 'promote',
  advance: 'advance',
  rollback: 'roll back',
  switch: 'switch',
  shadow: 'set a shadow',
  'shadow-stop': 'stop the shadow',
};

/** `set weight`, `roll back`: how a refusal names the command. */
export function commandVerb(type: CommandType): string {
  return VERB[type];
}

function refuse(command: RolloutCommand, state: RolloutState, why: string, code: ErrorCode = 'SY_ERR_ILLEGAL_TRANSITION'): { ok: false; refusal: Refusal } {
  return { ok: false, refusal: { code, message: `cannot ${VERB[command.type]}: service ${state.service} ${why}` } };
}

/**
 * The one pure transition function: `(state, command, context) -> state | refusal`.
 * Every accepted command bumps the revision by exactly one. The latest verdict
 * lives in the store's verdict record alone; the document's `lastVerdict` is
 * kept null (older replicas still read the field).
 */
export function transition(state: RolloutState, command: RolloutCommand, ctx: TransitionContext): TransitionResult {
  const next = decide(state, command, ctx);
  if (!next.ok) return next;
  const weightSince = next.state.weightBp === state.weightBp && command.type !== 'start' ? state.weightSince : ctx.now;
  return {
    ok: true,
    state: { ...next.state, revision: state.revision + 1, updatedAt: ctx.now, reason: ctx.reason, lastVerdict: null, weightSince, shadow: keptShadow(next.state) },
    rule: next.rule === undefined ? null : CONTROL_RULES[next.rule],
  };
}

/**
 * The shadow a state may keep: never stable (it would be compared with itself),
 * never a candidate that already answers live traffic (its answers are judged
 * live, not in the dark). Whatever command got there, such a shadow ends.
 */
function keptShadow(state: RolloutState): ShadowState | null {
  const { shadow } = state;
  if (shadow === null) return null;
  if (shadow.version === state.stable) return null;
  if (shadow.version === state.candidate && isActive(state) && state.weightBp > 0) return null;
  return shadow;
}

/** The state without the shadow of `version`, if that is what is shadowed. */
function dropShadowOf(state: RolloutState, version: string | null): RolloutState {
  return state.shadow !== null && state.shadow.version === version ? { ...state, shadow: null } : state;
}

function decide(state: RolloutState, command: RolloutCommand, ctx: TransitionContext): Decision {
  switch (command.type) {
    case 'start':
      return start(state, command, ctx);
    case 'set-weight':
      return setWeight(state, command, ctx.now);
    case 'pause':
      if (state.phase !== 'progressing') return refuse(command, state, `is ${state.phase}, not progressing`);
      return { ok: true, state: { ...state, phase: 'paused' } };
    case 'resume':
      return resume(state, command, ctx.now);
    case 'promote':
      if (!isActive(state) || state.candidate === null) return refuse(command, state, 'has no rollout in progress');
      return { ok: true, state: promoted(state, state.candidate) };
    case 'advance':
      return advance(state, command, ctx.now);
    case 'rollback':
      if (!isActive(state) || state.candidate === null) return refuse(command, state, 'has no rollout in progress');
      // A rolled-back candidate stops being shadowed too: nobody is judging it any more.
      return { ok: true, state: { ...dropShadowOf(state, state.candidate), weightBp: 0, phase: 'rolled_back' } };
    case 'switch':
      return switchColour(state, command);
    case 'shadow':
      return setShadow(state, command, ctx);
    case 'shadow-stop':
      if (state.shadow === null) return refuse(command, state, 'has no shadow', 'SY_ERR_NOT_FOUND');
      return { ok: true, state: { ...state, shadow: null } };
  }
}

function promoted(state: RolloutState, candidate: string): RolloutState {
  return { ...dropShadowOf(state, candidate), stable: candidate, previous: state.stable, candidate: null, weightBp: 0, phase: 'promoted' };
}

/**
 * Sets or replaces the service's shadow. Any version but stable may be shadowed,
 * in any phase; the candidate only while it has no live traffic (before the
 * first weighted step, or a blue-green candidate not switched to).
 */
function setShadow(state: RolloutState, command: Extract<RolloutCommand, { type: 'shadow' }>, ctx: TransitionContext): Decision {
  if (!ctx.versions.includes(command.version)) {
    return refuse(command, state, `has no version ${command.version} (versions: ${ctx.versions.join(', ')})`, 'SY_ERR_UNKNOWN_VERSION');
  }
  if (command.version === state.stable) {
    return refuse(command, state, `serves ${command.version} as stable; shadowing stable compares it with itself`, 'SY_ERR_SHADOW_CONFLICT');
  }
  if (command.version === state.candidate && isActive(state) && state.weightBp > 0) {
    return refuse(
      command,
      state,
      `already gives candidate ${command.version} ${state.weightBp / 100}% of live traffic; its answers are judged live, set the weight to 0 to shadow it`,
      'SY_ERR_SHADOW_CONFLICT',
    );
  }
  if (!isValidShadowBp(command.sampleBp)) {
    return refuse(command, state, `got shadow sample ${command.sampleBp} bp, outside 1..${MAX_WEIGHT_BP}`, 'SY_ERR_VALIDATION');
  }
  const since = state.shadow?.version === command.version ? state.shadow.since : ctx.now;
  return { ok: true, state: { ...state, shadow: { version: command.version, sampleBp: command.sampleBp, salt: shadowSalt(state.service), since } } };
}

/**
 * Next step of a canary; its weight never drops below the current one, so no user
 * moves back. From one shadow step to the next the candidate's sample changes;
 * out of the shadow steps into a weighted one its shadow ends.
 */
function advance(state: RolloutState, command: RolloutCommand, now: number): Decision {
  if (state.phase !== 'progressing' || state.candidate === null) return refuse(command, state, `is ${state.phase}, not progressing`);
  if (state.strategy !== 'canary') return refuse(command, state, 'runs blue-green, which an operator switches and promotes');
  if (state.steps.length === 0) return refuse(command, state, 'runs a manual canary (no steps); operators set its weight and promote it');
  const nextIndex = state.stepIndex + 1;
  const step = state.steps[nextIndex];
  if (step === undefined) return { ok: true, state: promoted(state, state.candidate) };
  const moved: RolloutState = { ...state, stepIndex: nextIndex, weightBp: Math.max(state.weightBp, step.weightBp), stepStartedAt: now };
  if (!isShadowStep(step)) return { ok: true, state: dropShadowOf(moved, state.candidate) };
  return { ok: true, state: { ...moved, shadow: candidateShadow(state, state.candidate, step, now) } };
}

/** The candidate's shadow on a shadow step; the sample of the step, `since` kept while the candidate stays shadowed. */
function candidateShadow(state: RolloutState, candidate: string, step: Step, now: number): ShadowState {
  const since = state.shadow?.version === candidate ? state.shadow.since : now;
  return { version: candidate, sampleBp: step.shadowBp ?? 0, salt: shadowSalt(state.service), since };
}

function start(state: RolloutState, command: Extract<RolloutCommand, { type: 'start' }>, ctx: TransitionContext): Decision {
  if (isActive(state)) {
    return refuse(command, state, `already has ${state.candidate ?? 'a candidate'} ${state.phase}; promote or roll it back first`);
  }
  if (!ctx.versions.includes(command.candidate)) {
    return refuse(command, state, `has no version ${command.candidate} (versions: ${ctx.versions.join(', ')})`, 'SY_ERR_UNKNOWN_VERSION');
  }
  if (command.candidate === state.stable) {
    return refuse(command, state, `already serves ${command.candidate} as stable`);
  }
  const strategy = command.strategy ?? state.strategy;
  const plan = startPlan({ strategy, steps: command.steps, configured: state.steps, weightBp: command.weightBp });
  if (!plan.ok) return refuse(command, state, plan.why, 'SY_ERR_VALIDATION');
  const { steps, weightBp } = plan;
  // A canary whose plan opens with a shadow step starts in the dark: weight 0, the candidate shadowed.
  const first = steps[0];
  const shadow = strategy === 'canary' && first !== undefined && isShadowStep(first) ? candidateShadow(state, command.candidate, first, ctx.now) : state.shadow;
  return {
    ok: true,
    ...(strategy === 'canary' && steps.length === 0 ? { rule: 'manualCanary' as const } : {}),
    state: {
      ...state,
      shadow,
      candidate: command.candidate,
      strategy,
      steps,
      stepIndex: 0,
      weightBp,
      phase: 'progressing',
      salt: command.salt ?? `${state.service}:${command.candidate}`,
      startedAt: ctx.now,
      stepStartedAt: ctx.now,
      lastVerdict: null,
    },
  };
}

/**
 * An operator's weight (the loop never sets one). It restarts the step's bake,
 * so the step is judged again at the new weight; 0 pauses the rollout; a weight
 * above 0 resumes a rollout paused at 0. A pause at a weight above 0 stays.
 */
function setWeight(state: RolloutState, command: Extract<RolloutCommand, { type: 'set-weight' }>, now: number): Decision {
  if (state.candidate === null) return refuse(command, state, 'has no candidate');
  if (!isActive(state)) return refuse(command, state, `has no rollout in progress (${state.phase})`);
  if (state.strategy === 'blue-green') return refuse(command, state, 'runs blue-green, which moves traffic with switch, not weights');
  if (!isValidWeightBp(command.weightBp)) {
    return refuse(command, state, `got weight ${command.weightBp} bp, outside 0..${MAX_WEIGHT_BP}`, 'SY_ERR_VALIDATION');
  }
  const weighted: RolloutState = { ...state, weightBp: command.weightBp, stepStartedAt: now };
  if (command.weightBp === 0) return { ok: true, state: { ...weighted, phase: 'paused' }, rule: 'weightZeroHolds' };
  if (state.phase === 'paused' && state.weightBp === 0) return { ok: true, state: { ...weighted, phase: 'progressing' }, rule: 'weightResumes' };
  return { ok: true, state: weighted, rule: 'operatorWeight' };
}

/** Resume restarts the step's bake; a rollout paused at weight 0 gets its (weighted) step's weight back. */
function resume(state: RolloutState, command: RolloutCommand, now: number): Decision {
  if (state.phase !== 'paused') return refuse(command, state, `is ${state.phase}, not paused`);
  const resumed: RolloutState = { ...state, phase: 'progressing', stepStartedAt: now };
  const stepWeightBp = state.strategy === 'canary' ? (state.steps[state.stepIndex]?.weightBp ?? 0) : 0;
  if (state.weightBp === 0 && stepWeightBp > 0) return { ok: true, state: { ...resumed, weightBp: stepWeightBp }, rule: 'resumeRestoresStep' };
  return { ok: true, state: resumed };
}

/**
 * Blue-green: during a rollout, flips all traffic between stable and candidate.
 * After a promotion or rollback, swaps stable with the colour kept warm.
 */
function switchColour(state: RolloutState, command: RolloutCommand): Decision {
  if (isActive(state)) {
    if (state.strategy !== 'blue-green') return refuse(command, state, 'runs a canary; set the weight or promote instead');
    return { ok: true, state: { ...state, weightBp: state.weightBp === MAX_WEIGHT_BP ? 0 : MAX_WEIGHT_BP } };
  }
  if (state.previous === null) return refuse(command, state, 'has no previous version to switch back to');
  return { ok: true, state: { ...state, stable: state.previous, previous: state.stable, candidate: null, weightBp: 0, phase: 'stable' } };
}
