import { analyse, analyseFrom, type AnalysisCheckpoint } from '../../src/core/analysis/detector.js';
import type { AnalysisConfig } from '../../src/core/analysis/config.js';
import type { AnalysisBucket } from '../../src/core/analysis/input.js';
import { FLAGGER_RULE, flaggerTick } from './flagger.js';
import { Rng } from './rng.js';
import { baselineWindow, candidateUsers, simulateBucket, type Scenario } from './traffic.js';

export const BUCKET_MS = 1_000;
export const LOOP_INTERVAL_MS = 5_000;
export const HORIZON_MS = 30 * 60_000;
export const BASELINE_MS = 10 * 60_000;

export interface RunResult {
  /** Simulated ms from the rollout start to the first `fail` verdict, or null within the horizon. */
  readonly detectorMs: number | null;
  readonly flaggerMs: number | null;
  /** The failing verdict's reason, for the bench's sample line. */
  readonly reason: string | null;
  /** With `verify`, whether a from-scratch `analyse` matched the checkpointed one at the end. */
  readonly verified: boolean | null;
}

/**
 * One rollout: a 1-s bucket stream, the production detector called every 5 s
 * of simulated time with every bucket so far (as the loop does; the checkpoint
 * only spares refolding old buckets), and the Flagger-style rule every minute
 * on the same stream. Stops when both have rolled back or at the horizon.
 */
export function simulateRun(scenario: Scenario, seed: number, config: AnalysisConfig, verify = false): RunResult {
  const rng = new Rng(seed);
  const baseline = baselineWindow(rng, scenario, BASELINE_MS);
  const users = candidateUsers(rng, scenario);
  const buckets: AnalysisBucket[] = [];
  const flagger = { failedChecks: 0 };
  let checkpoint: AnalysisCheckpoint | null = null;
  let detectorMs: number | null = null;
  let flaggerMs: number | null = null;
  let reason: string | null = null;
  for (let start = 0; start < HORIZON_MS && (detectorMs === null || flaggerMs === null); start += BUCKET_MS) {
    buckets.push(simulateBucket(rng, scenario, users, start, BUCKET_MS));
    const now = start + BUCKET_MS;
    if (detectorMs === null && now % LOOP_INTERVAL_MS === 0) {
      const out = analyseFrom({ now, weightBp: scenario.weightBp, baseline, buckets }, config, checkpoint);
      checkpoint = out.checkpoint;
      if (out.verdict.result === 'fail') {
        detectorMs = now;
        reason = out.verdict.reason;
      }
    }
    if (flaggerMs === null && now % FLAGGER_RULE.intervalMs === 0) {
      if (flaggerTick(FLAGGER_RULE, flagger, buckets.slice(-FLAGGER_RULE.intervalMs / BUCKET_MS))) flaggerMs = now;
    }
  }
  const verified = verify ? sameVerdict(buckets, baseline, scenario, config, checkpoint) : null;
  return { detectorMs, flaggerMs, reason, verified };
}

function sameVerdict(
  buckets: AnalysisBucket[],
  baseline: Parameters<typeof analyse>[0]['baseline'],
  scenario: Scenario,
  config: AnalysisConfig,
  checkpoint: AnalysisCheckpoint | null,
): boolean {
  const now = (buckets.at(-1)?.bucketMs ?? 0) + BUCKET_MS;
  const input = { now, weightBp: scenario.weightBp, baseline, buckets };
  return JSON.stringify(analyse(input, config)) === JSON.stringify(analyseFrom(input, config, checkpoint).verdict);
}
