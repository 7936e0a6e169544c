import type { AnalysisConfig } from '../../src/core/analysis/config.js';
import type { AnalysisBucket } from '../../src/core/analysis/input.js';
import { FLAGGER_RULE, flaggerTick } from './flagger.js';
import { GatewayPath, type Move } from './gateway-path.js';
import { LOOP } from './production.js';
import { Rng } from './rng.js';
import { HORIZON_MS, startCommand, type BenchCase } from './scenarios.js';
import { baselineWindow, candidateUsers, simulateBucket } from './traffic.js';

export interface RunResult {
  /** Simulated ms from the rollout start to the loop's rollback, or null within the horizon. */
  readonly detectorMs: number | null;
  /** The failing verdict's reason, for the causes and the sample line. */
  readonly reason: string | null;
  /** The step (1-based) the rollout was on when it was rolled back. */
  readonly rollbackStep: number | null;
  readonly promotedMs: number | null;
  readonly pausedMs: number | null;
  /** Why the last step passed (the promotion) or why the rollout was paused, for the sample lines. */
  readonly promoteReason: string | null;
  readonly pauseReason: string | null;
  /** When the loop moved the rollout off each step (the last entry is the promotion, if any). */
  readonly advancesMs: readonly number[];
  readonly flaggerMs: number | null;
  /** With `verify`, whether a from-scratch `analyse` matched the checkpointed verdict of the last round judged. */
  readonly verified: boolean | null;
}

type MutableResult = { -readonly [K in keyof RunResult]: RunResult[K] };

/**
 * One rollout: 1-s buckets of seeded traffic at the weight the rollout state
 * has when each is recorded, judged every loop interval by the gateway's code
 * path (GatewayPath) until it is promoted or rolled back, and by the
 * Flagger-style rule every minute on the same stream. Once the loop has ended
 * the rollout the stream goes on at its last weight, so the Flagger-style rule
 * always gets the whole horizon; the run stops when both have decided.
 */
export function simulateRun(c: BenchCase, seed: number, config: AnalysisConfig, verify = false): RunResult {
  const rng = new Rng(seed);
  const baseline = baselineWindow(rng, c.scenario, LOOP.baselineMs);
  const users = candidateUsers(rng, c.scenario);
  const shared = c.shared(seed);
  const path = new GatewayPath(startCommand(c), config, baseline);
  users.weightBp = path.state.weightBp;
  const buckets: AnalysisBucket[] = [];
  const flagger = { failedChecks: 0 };
  const r = emptyResult();
  let firstStepChangeMs: number | null = null;
  for (let start = 0; start < HORIZON_MS && (path.judged || r.flaggerMs === null); start += LOOP.bucketMs) {
    const regressed = path.state.stepIndex >= (c.scenario.fromStep ?? 0);
    buckets.push(simulateBucket(rng, c.scenario, users, start, LOOP.bucketMs, shared({ tMs: start, firstStepChangeMs }), regressed));
    const now = start + LOOP.bucketMs;
    if (path.judged && now % LOOP.intervalMs === 0) {
      const stepIndex = path.state.stepIndex;
      const { verdict, move } = path.round(now, buckets);
      if (move !== null) note(r, move, verdict.reason, stepIndex);
      if (path.judged) users.weightBp = path.state.weightBp;
      if (firstStepChangeMs === null && path.state.stepIndex > 0) firstStepChangeMs = now;
    }
    if (r.flaggerMs === null && now % FLAGGER_RULE.intervalMs === 0) {
      if (flaggerTick(FLAGGER_RULE, flagger, buckets.slice(-FLAGGER_RULE.intervalMs / LOOP.bucketMs))) r.flaggerMs = now;
    }
  }
  if (verify) r.verified = path.checkpointMatches(buckets);
  return r;
}

function emptyResult(): MutableResult {
  return {
    detectorMs: null,
    reason: null,
    rollbackStep: null,
    promotedMs: null,
    pausedMs: null,
    promoteReason: null,
    pauseReason: null,
    advancesMs: [],
    flaggerMs: null,
    verified: null,
  };
}

/** Records what a move did to the run. */
function note(r: MutableResult, move: Move, verdictReason: string, stepIndex: number): void {
  if (move.type === 'rollback') {
    r.detectorMs = move.atMs;
    r.reason = verdictReason;
    r.rollbackStep = stepIndex + 1;
  } else if (move.type === 'pause') {
    r.pausedMs ??= move.atMs;
    r.pauseReason ??= move.reason;
  } else if (move.type === 'advance') {
    r.advancesMs = [...r.advancesMs, move.atMs];
    if (move.after.phase === 'promoted') {
      r.promotedMs = move.atMs;
      r.promoteReason = move.reason;
    }
  }
}
