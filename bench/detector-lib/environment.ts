import { Rng } from './rng.js';
import { NO_SHARED_CHANGE, type SharedFactors } from './traffic.js';

/**
 * What happens to both versions at once during a run: the changes the
 * detector must not blame on the candidate, which is why it compares the
 * versions within each bucket (src/core/analysis/evidence.ts). A profile
 * reads the moment of the bucket: its time since the rollout started and, for
 * changes that coincide with a step, when the rollout first left its first step.
 */
export interface Moment {
  readonly tMs: number;
  /** When the rollout first advanced past its first step; null before that (and always for a fixed canary). */
  readonly firstStepChangeMs: number | null;
}

export type SharedProfile = (m: Moment) => SharedFactors;

export const STEADY: SharedProfile = () => NO_SHARED_CHANGE;

/** A seeded start time in whole seconds in [0, spanMs), drawn apart from the run's traffic. */
export function seededStartMs(seed: number, spanMs: number): number {
  return new Rng(seed ^ 0x5bd1e995).int(spanMs / 1000) * 1000;
}

/** Both versions' error rate × `factor` for `durationMs` from `startMs` (a shared dependency failing). */
export function incident(startMs: number, durationMs: number, factor: number): SharedProfile {
  const during: SharedFactors = { ...NO_SHARED_CHANGE, errors: factor };
  return ({ tMs }) => (tMs >= startMs && tMs < startMs + durationMs ? during : NO_SHARED_CHANGE);
}

/**
 * Both versions slower by `factor` from the first step change on: a shared
 * downstream that slows down just as the candidate's share rises, the case
 * where a pooled comparison blames the candidate.
 */
export function slowdownAtFirstStep(factor: number): SharedProfile {
  const slower: SharedFactors = { ...NO_SHARED_CHANGE, latency: factor };
  return ({ tMs, firstStepChangeMs }) => (firstStepChangeMs !== null && tMs >= firstStepChangeMs ? slower : NO_SHARED_CHANGE);
}

/**
 * A daily-like ramp: latency and request rate rise smoothly (a raised cosine,
 * flat at both ends like a morning's climb) from ×1 at the start to their
 * peaks at `overMs`, and stay there.
 */
export function dailyRamp(overMs: number, peakLatency: number, peakRps: number): SharedProfile {
  return ({ tMs }) => {
    const x = Math.min(1, Math.max(0, tMs / overMs));
    const s = (1 - Math.cos(Math.PI * x)) / 2;
    return { rps: 1 + (peakRps - 1) * s, latency: 1 + (peakLatency - 1) * s, errors: 1 };
  };
}

/** A load surge from `startMs` for `durationMs`: more requests, both versions slower and failing more. */
export function loadSurge(startMs: number, durationMs: number, during: SharedFactors): SharedProfile {
  return ({ tMs }) => (tMs >= startMs && tMs < startMs + durationMs ? during : NO_SHARED_CHANGE);
}
