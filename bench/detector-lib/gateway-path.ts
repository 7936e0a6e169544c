import { analyse, analyseFrom, type AnalysisCheckpoint } from '../../src/core/analysis/detector.js';
import type { AnalysisConfig } from '../../src/core/analysis/config.js';
import type { AnalysisBucket } from '../../src/core/analysis/input.js';
import type { ArmWindow } from '../../src/core/analysis/window.js';
import { decideRound } from '../../src/core/progression.js';
import { initialState, isActive, type Hold, type RolloutState, type Verdict } from '../../src/core/rollout-state.js';
import { transition, type CommandType, type RolloutCommand } from '../../src/core/transition.js';
import { LOOP, SERVICE, STABLE, VERSIONS } from './production.js';

/** A move the loop made in one round: the command, why, and the state it left. */
export interface Move {
  readonly atMs: number;
  readonly type: CommandType;
  readonly reason: string;
  readonly after: RolloutState;
}

/** The last judged round's input, its buckets being a prefix (`count` long) of the growing list, and its verdict. */
interface JudgedRound {
  readonly now: number;
  readonly weightBp: number;
  readonly weightSinceMs: number;
  readonly count: number;
  readonly verdict: Verdict;
}

/**
 * One rollout judged by the gateway's pure code path, round by round, as
 * src/app/analysis-loop.ts chains it: analyseFrom on every bucket so far
 * (resumed from the last round's checkpoint), decideRound with the previous
 * inconclusive count and hold, then transition with the command it returns.
 * Only the store, the lease and the effects are left out.
 */
export class GatewayPath {
  private current: RolloutState;
  private checkpoint: AnalysisCheckpoint | null = null;
  private inconclusiveInARow = 0;
  private hold: Hold | null = null;
  private last: JudgedRound | null = null;

  constructor(
    start: RolloutCommand,
    private readonly config: AnalysisConfig,
    private readonly baseline: ArmWindow,
  ) {
    const before = initialState({ service: SERVICE, stable: STABLE, strategy: 'canary', steps: [], now: 0 });
    this.current = this.apply(before, start, 0, 'bench: start').after;
  }

  get state(): RolloutState {
    return this.current;
  }

  /** Still judged: the loop judges progressing and paused rollouts, and stops at promotion or rollback. */
  get judged(): boolean {
    return isActive(this.current);
  }

  /** One round at `now` over every complete bucket so far; the move it made, if any. */
  round(now: number, buckets: readonly AnalysisBucket[]): { readonly verdict: Verdict; readonly move: Move | null } {
    const state = this.current;
    const weightSinceMs = state.weightSince ?? state.startedAt ?? 0;
    const input = { now, weightBp: state.weightBp, weightSinceMs, baseline: this.baseline, buckets };
    const judged = analyseFrom(input, this.config, this.checkpoint);
    this.checkpoint = judged.checkpoint;
    this.last = { now, weightBp: state.weightBp, weightSinceMs, count: buckets.length, verdict: judged.verdict };
    const round = decideRound({
      state,
      verdict: judged.verdict,
      inconclusiveInARow: this.inconclusiveInARow,
      previousHold: this.hold,
      now,
      limits: { maxInconclusive: LOOP.maxInconclusive },
    });
    this.inconclusiveInARow = round.inconclusiveInARow;
    this.hold = round.hold;
    const next = round.progression;
    if (next === null) return { verdict: judged.verdict, move: null };
    const move = this.apply(state, next.command, now, next.reason);
    this.current = move.after;
    return { verdict: judged.verdict, move };
  }

  /** Whether a from-scratch `analyse` of the last round's input gives the checkpointed verdict; null before any round. */
  checkpointMatches(buckets: readonly AnalysisBucket[]): boolean | null {
    if (this.last === null) return null;
    const { verdict, count, ...at } = this.last;
    const scratch = analyse({ ...at, baseline: this.baseline, buckets: buckets.slice(0, count) }, this.config);
    return JSON.stringify(scratch) === JSON.stringify(verdict);
  }

  private apply(state: RolloutState, command: RolloutCommand, now: number, reason: string): Move {
    const result = transition(state, command, { versions: VERSIONS, now, reason });
    // The loop's commands are ones the state allows; a refusal here is a bug in the bench, not a result.
    if (!result.ok) throw new Error(`transition refused ${command.type}: ${result.refusal.message}`);
    return { atMs: now, type: command.type, reason, after: result.state };
  }
}
