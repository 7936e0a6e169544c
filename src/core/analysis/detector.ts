import type { Verdict } from '../rollout-state.js';
import { absoluteGuard } from './absolute-guard.js';
import type { AnalysisConfig } from './config.js';
import { cloneEvidenceState, componentWeights, foldBucket, newEvidenceState, type EvidenceState } from './evidence.js';
import type { AnalysisInput } from './input.js';
import { sampleRatio } from './sample-ratio.js';
import { buildVerdict } from './verdict.js';
import type { ArmWindow } from './window.js';

export type { AnalysisBucket, AnalysisInput } from './input.js';
export { DEFAULT_ANALYSIS_CONFIG, resolveAnalysisConfig, validateAnalysisConfig, type AnalysisConfig } from './config.js';

/**
 * The detector: judges the candidate against stable on every complete bucket
 * since the rollout started (docs/analysis.md, The statistics). Pure: `now`
 * comes in with the input, nothing is read from the clock.
 */
export function analyse(input: AnalysisInput, config: AnalysisConfig): Verdict {
  return analyseFrom(input, config, null).verdict;
}

/**
 * The evidence folded over a prefix of a rollout's buckets. Opaque to callers:
 * hand it back to `analyseFrom` with the same config and baseline and a longer
 * bucket list, and only the new buckets are folded.
 */
export interface AnalysisCheckpoint {
  readonly config: AnalysisConfig;
  readonly baselineKey: string;
  readonly state: Readonly<EvidenceState>;
}

/**
 * `analyse`, resumable: the verdict equals `analyse(input, config)` exactly,
 * because folding is sequential and a resumed fold starts from a copy of the
 * checkpointed state. A checkpoint that does not match (other config, other
 * baseline, other first or last folded bucket) is ignored and all buckets are
 * folded again.
 */
export function analyseFrom(
  input: AnalysisInput,
  config: AnalysisConfig,
  checkpoint: AnalysisCheckpoint | null,
): { verdict: Verdict; checkpoint: AnalysisCheckpoint } {
  const baselineKey = fingerprint(input.baseline);
  const state = resumable(checkpoint, input, config, baselineKey)
    ? cloneEvidenceState(checkpoint.state as EvidenceState)
    : newEvidenceState(config, input.baseline);
  const weights = componentWeights(config);
  for (let i = state.buckets; i < input.buckets.length; i++) foldBucket(state, input.buckets[i]!, config, weights);
  const verdict = buildVerdict({
    input,
    config,
    state,
    guard: absoluteGuard(input.buckets, config),
    ratio: sampleRatio(input.buckets, input.weightBp, input.weightSinceMs, config),
  });
  // `state` is this call's own copy, so the checkpoint may keep it; a resume clones it again.
  return { verdict, checkpoint: { config, baselineKey, state } };
}

function resumable(
  c: AnalysisCheckpoint | null,
  input: AnalysisInput,
  config: AnalysisConfig,
  baselineKey: string,
): c is AnalysisCheckpoint {
  if (c === null || c.config !== config || c.baselineKey !== baselineKey) return false;
  const n = c.state.buckets;
  if (n === 0) return true;
  if (n > input.buckets.length) return false;
  return input.buckets[0]!.bucketMs === c.state.firstBucketMs && input.buckets[n - 1]!.bucketMs === c.state.lastBucketMs;
}

function fingerprint(arm: ArmWindow): string {
  return `${arm.requests}/${arm.errors}/${arm.logSum}/${arm.logSqSum}/${Object.keys(arm.latency).length}`;
}
