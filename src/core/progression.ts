import { isReleaseWindowOpen, type ReleaseWindowPolicy } from './release-window.js';
import { isActive, type RolloutState, type Verdict } from './rollout-state.js';
import type { RolloutCommand } from './transition.js';

export interface ProgressionLimits {
  /** Inconclusive verdicts in a row, past their bake time, after which a human is asked (pause). */
  readonly maxInconclusive: number;
  /** The service's release windows: outside them a passing step waits instead of advancing. */
  readonly releaseWindows?: ReleaseWindowPolicy | null | undefined;
}

export interface Progression {
  readonly command: RolloutCommand;
  readonly reason: string;
}

/**
 * What the analysis does with a verdict: fail rolls back at once; a passing step
 * whose bake time is over advances (the last one promotes); inconclusive never
 * advances, and too many in a row pause for a human. Paused rollouts are judged
 * but not moved; a hold (sample-ratio mismatch) waits. Outside the release
 * windows an advance is not attempted (no refusal, no pause): it happens on the
 * first round inside the next window. A rollback never waits.
 */
export function decideProgression(
  state: RolloutState,
  verdict: Verdict,
  inconclusiveInARow: number,
  now: number,
  limits: ProgressionLimits,
): Progression | null {
  if (!isActive(state) || state.candidate === null) return null;
  if (verdict.result === 'fail') return { command: { type: 'rollback' }, reason: `analysis: ${verdict.reason}` };
  if (state.phase !== 'progressing' || verdict.hold || state.strategy !== 'canary') return null;
  const step = state.steps[state.stepIndex];
  const baked = step === undefined || now - (state.stepStartedAt ?? now) >= step.bakeMs;
  if (!baked) return null;
  if (verdict.result === 'pass') {
    if (!isReleaseWindowOpen(limits.releaseWindows, now)) return null;
    const last = state.stepIndex + 1 >= state.steps.length;
    return { command: { type: 'advance' }, reason: `analysis: ${last ? 'last step passed, promoting' : `step ${state.stepIndex + 1} passed`}: ${verdict.reason}` };
  }
  if (inconclusiveInARow >= limits.maxInconclusive) {
    return {
      command: { type: 'pause' },
      reason: `analysis: ${inconclusiveInARow} inconclusive verdicts in a row after the bake time; a human should look (${verdict.reason})`,
    };
  }
  return null;
}
