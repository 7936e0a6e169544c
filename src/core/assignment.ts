import murmurhash from 'murmurhash';
import { isLive, type Override } from './override.js';
import type { RolloutState } from './rollout-state.js';

export const BUCKETS = 10_000;

export type AssignmentReason = 'header' | 'override' | 'bucket' | 'stable';

export interface Assignment {
  readonly version: string;
  readonly reason: AssignmentReason;
  /** The key's bucket, 0..9999; null when the key was not hashed (header or override won). */
  readonly bucket: number | null;
}

/** murmurhash3 (32-bit) of `salt:key`, mod 10000: the same on every replica and every process. */
export function bucketOf(salt: string, key: string): number {
  return murmurhash.v3(`${salt}:${key}`) % BUCKETS;
}

/** The slice of rollout state that assignment reads. */
export type AssignmentState = Pick<RolloutState, 'stable' | 'candidate' | 'weightBp' | 'salt' | 'phase'>;

/**
 * Which version serves `key`. Precedence: an explicit (already validated)
 * version request, then a live override, then the bucket. A rollback returns
 * everyone to stable at once, so overrides pinning the rolled-back candidate
 * stop counting until it is started again.
 * The user goes to the candidate when bucket < weight, so raising the weight
 * only ever moves users from stable to candidate.
 */
export function assign(
  state: AssignmentState,
  overrides: ReadonlyMap<string, Override>,
  key: string,
  now: number,
  requested: string | null = null,
): Assignment {
  if (requested !== null) return { version: requested, reason: 'header', bucket: null };
  const override = overrides.get(key);
  const rolledBack = state.phase === 'rolled_back' && override?.version === state.candidate;
  if (override !== undefined && isLive(override, now) && !rolledBack) return { version: override.version, reason: 'override', bucket: null };
  if (state.candidate === null) return { version: state.stable, reason: 'stable', bucket: null };
  const bucket = bucketOf(state.salt, key);
  return { version: bucket < state.weightBp ? state.candidate : state.stable, reason: 'bucket', bucket };
}
