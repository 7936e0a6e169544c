import { CONTROL_RULES } from './control-rules.js';
import { isReleaseWindowOpen, type ReleaseWindowPolicy } from './release-window.js';
import { isActive, isShadowStep, type Hold, type RolloutState, type ShadowVerdict, type Verdict, type VerdictResult } from './rollout-state.js';
import type { DriftAction } from './shadow/drift-config.js';
import type { RolloutCommand } from './transition.js';

export interface ProgressionLimits {
  /** Inconclusive verdicts in a row, past their bake time, after which a human is asked (pause). */
  readonly maxInconclusive: number;
  /** The service's release windows: outside them a passing step waits instead of advancing. */
  readonly releaseWindows?: ReleaseWindowPolicy | null | undefined;
  /**
   * The service's `shadow.drift.action`: with `flag`, flagged drift is only
   * reported and a shadow step advances on its pass; otherwise (the default,
   * `hold`) it holds. A rollback is the drift judge's own call (`drift.rollback`).
   */
  readonly driftAction?: DriftAction | undefined;
}

export interface Progression {
  readonly command: RolloutCommand;
  readonly reason: string;
  /** The control rule between operators and the loop that this move applies, for the audit entry. */
  readonly rule?: string;
}

/** A canary started without steps: operators move it; the analysis only rolls it back. */
export function isManualCanary(state: RolloutState): boolean {
  return state.strategy === 'canary' && state.steps.length === 0;
}

/** Whether the current step's bake time is over (a manual canary has none to wait for). */
export function isBaked(state: RolloutState, now: number): boolean {
  const step = state.steps[state.stepIndex];
  return step === undefined || now - (state.stepStartedAt ?? now) >= step.bakeMs;
}

/** True while the rollout sits on a shadow step: the candidate is judged in the dark, on its shadow's verdict. */
export function onShadowStep(state: RolloutState): boolean {
  return isActive(state) && state.strategy === 'canary' && state.candidate !== null && isShadowStep(state.steps[state.stepIndex]);
}

/** The candidate's shadow verdict of this round; another version's (a standing shadow) does not count. */
function candidateShadowVerdict(state: RolloutState, verdict: Verdict): ShadowVerdict | null {
  const shadow = verdict.shadow ?? null;
  return shadow !== null && shadow.version === state.candidate ? shadow : null;
}

/**
 * The result progression decides on: the shadow's on a shadow step (no shadow
 * verdict is inconclusive, never a pass), the live verdict's otherwise. The
 * analysis loop counts inconclusive rounds in a row by this.
 */
export function decisiveResult(state: RolloutState, verdict: Verdict): VerdictResult {
  if (!onShadowStep(state)) return verdict.result;
  if (verdict.result === 'fail') return 'fail';
  return candidateShadowVerdict(state, verdict)?.result ?? 'inconclusive';
}

/**
 * Why a rollout on a shadow step is held although its shadow passed: prediction
 * drift flagged, unless the action is `flag` (report only). Null when nothing
 * holds it. A human decides: set a weight, promote, roll back, or stop the shadow.
 */
export function shadowHoldReason(state: RolloutState, verdict: Verdict, driftAction: DriftAction = 'hold'): string | null {
  if (!onShadowStep(state) || driftAction === 'flag') return null;
  const drift = candidateShadowVerdict(state, verdict)?.drift ?? null;
  if (drift === null || !drift.flagged || drift.rollback) return null;
  return `analysis: shadow ${state.candidate ?? '?'} held on step ${state.stepIndex + 1}: its predictions drift from stable's (${drift.reason}); a human decides`;
}

/**
 * What the analysis does with a verdict: fail rolls back at once; a passing step
 * whose bake time is over advances (the last one promotes); inconclusive never
 * advances, and too many in a row pause for a human. Paused rollouts are judged
 * but not moved; a hold (sample-ratio mismatch) waits. Outside the release
 * windows an advance is not attempted (no refusal, no pause): it happens on the
 * first round inside the next window. A rollback never waits.
 *
 * On a shadow step the candidate answers no client, so the shadow's verdict
 * decides: its fail, or prediction drift with the rollback action, rolls back;
 * drift flagged otherwise holds unless the action is `flag` (shadowHoldReason);
 * its pass advances after the bake time. Outside shadow steps a shadow never
 * moves the rollout.
 */
export function decideProgression(
  state: RolloutState,
  verdict: Verdict,
  inconclusiveInARow: number,
  now: number,
  limits: ProgressionLimits,
): Progression | null {
  if (!isActive(state) || state.candidate === null) return null;
  if (verdict.result === 'fail') return { command: { type: 'rollback' }, reason: `analysis: ${verdict.reason}`, rule: CONTROL_RULES.failRollsBack };
  const shadow = onShadowStep(state) ? candidateShadowVerdict(state, verdict) : null;
  if (shadow?.result === 'fail') {
    return { command: { type: 'rollback' }, reason: `analysis: shadow ${shadow.version} failed against stable on the same requests: ${shadow.reason}` };
  }
  if (shadow?.drift?.rollback === true) {
    return { command: { type: 'rollback' }, reason: `analysis: shadow ${shadow.version} predictions drift from stable's: ${shadow.drift.reason}` };
  }
  if (state.phase !== 'progressing' || verdict.hold || state.strategy !== 'canary' || isManualCanary(state)) return null;
  if (shadowHoldReason(state, verdict, limits.driftAction) !== null) return null;
  if (!isBaked(state, now)) return null;
  const result = decisiveResult(state, verdict);
  const judged = onShadowStep(state) ? `shadow ${state.candidate}: ${shadow?.reason ?? 'no shadow verdict'}` : verdict.reason;
  if (result === 'pass') {
    if (!isReleaseWindowOpen(limits.releaseWindows, now)) return null;
    const last = state.stepIndex + 1 >= state.steps.length;
    const reason = `analysis: ${last ? 'last step passed, promoting' : `step ${state.stepIndex + 1} passed`}: ${judged}`;
    return { command: { type: 'advance' }, reason, rule: CONTROL_RULES.judgedAdvance };
  }
  if (inconclusiveInARow >= limits.maxInconclusive) {
    return {
      command: { type: 'pause' },
      reason: `analysis: ${inconclusiveInARow} inconclusive verdicts in a row after the bake time; a human should look (${judged})`,
    };
  }
  return null;
}

/**
 * Inconclusive rounds in a row that count towards `maxInconclusive`: only
 * rounds after the step's bake time, on a progressing plan that the loop would
 * otherwise advance, and not while something holds it (a hold says why it
 * waits). Any other round starts the count again.
 */
export function inconclusiveCount(state: RolloutState, verdict: Verdict, previous: number, now: number, hold: Hold | null): number {
  const counts = isActive(state) && state.phase === 'progressing' && state.strategy === 'canary' && !isManualCanary(state) && hold === null && isBaked(state, now);
  return counts && decisiveResult(state, verdict) === 'inconclusive' ? previous + 1 : 0;
}

/**
 * What holds a progressing rollout that the analysis would otherwise move: a
 * sample-ratio mismatch, or prediction drift on a shadow step. A hold of the
 * same kind keeps the time it began.
 */
export function holdOf(state: RolloutState, verdict: Verdict, previous: Hold | null, now: number, driftAction: DriftAction = 'hold'): Hold | null {
  if (!isActive(state) || state.phase !== 'progressing') return null;
  const drift = shadowHoldReason(state, verdict, driftAction);
  const found = verdict.hold
    ? { kind: 'sample-ratio' as const, reason: verdict.reason }
    : drift !== null ? { kind: 'shadow-drift' as const, reason: drift } : null;
  if (found === null) return null;
  return { ...found, since: previous?.kind === found.kind ? previous.since : now };
}

/** One round's decisions for one rollout, pure: what holds it, the inconclusive count, and the move, if any. */
export interface RoundDecision {
  readonly hold: Hold | null;
  readonly inconclusiveInARow: number;
  readonly progression: Progression | null;
}

export function decideRound(input: {
  readonly state: RolloutState;
  readonly verdict: Verdict;
  readonly inconclusiveInARow: number;
  readonly previousHold: Hold | null;
  readonly now: number;
  readonly limits: ProgressionLimits;
}): RoundDecision {
  const { state, verdict, now, limits } = input;
  const hold = holdOf(state, verdict, input.previousHold, now, limits.driftAction);
  const inconclusiveInARow = inconclusiveCount(state, verdict, input.inconclusiveInARow, now, hold);
  const progression = decideProgression(state, verdict, inconclusiveInARow, now, limits);
  // A round that rolls back ends the rollout: nothing is left to hold.
  return { hold: progression?.command.type === 'rollback' ? null : hold, inconclusiveInARow, progression };
}
