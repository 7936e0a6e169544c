import { isActive, type RolloutState } from '../core/rollout-state.js';

/** What the rollout counters count. */
export type TransitionKind = 'rollback' | 'promote' | 'step';

/** An accepted transition as RolloutCommands reports it (only the fields read here). */
export interface TransitionFacts {
  readonly action: string;
  readonly before: RolloutState;
  readonly after: RolloutState;
}

/**
 * Which counter a stored transition moves, judged from the states rather than
 * the command name: an `advance` past the last step is a promotion, a blue-green
 * `switch` back to the previous colour after a promotion is a rollback, and a
 * weight or step change of a running rollout is a step change. Starting a
 * rollout, pausing and resuming move none.
 */
export function transitionKind(t: TransitionFacts): TransitionKind | null {
  const { before, after } = t;
  if (after.phase === 'rolled_back' && before.phase !== 'rolled_back') return 'rollback';
  if (after.phase === 'promoted' && isActive(before)) return 'promote';
  if (t.action === 'switch' && !isActive(before) && after.stable !== before.stable) return 'rollback';
  if (isActive(before) && isActive(after) && (after.weightBp !== before.weightBp || after.stepIndex !== before.stepIndex)) return 'step';
  return null;
}
