/**
 * Analysis windows: per service, version and time bucket, counts that add up
 * exactly across replicas and across buckets (research/canary-statistics.md §2.2).
 * Latency is a log-bucketed histogram with the DDSketch mapping.
 */

/** DDSketch relative accuracy a = 2 %: γ = (1 + a) / (1 − a), about 276 keys for 1 ms..60 s. */
export const LATENCY_RELATIVE_ACCURACY = 0.02;
const GAMMA = (1 + LATENCY_RELATIVE_ACCURACY) / (1 - LATENCY_RELATIVE_ACCURACY);
const LN_GAMMA = Math.log(GAMMA);
/** Latencies below this are recorded as this (a key for 0 does not exist). */
const MIN_LATENCY_MS = 0.01;

/** key(v) = ceil(ln(v) / ln(γ)), v in milliseconds. */
export function latencyKey(ms: number): number {
  return Math.ceil(Math.log(Math.max(ms, MIN_LATENCY_MS)) / LN_GAMMA);
}

/** value(key) = 2·γ^key / (1 + γ): within relative error a of every latency in the bucket. */
export function latencyValue(key: number): number {
  return (2 * GAMMA ** key) / (1 + GAMMA);
}

/** One version's counts in one time bucket (or merged over several). */
export interface ArmWindow {
  readonly requests: number;
  /** 5xx answers, timeouts and connect failures. */
  readonly errors: number;
  /** Distinct sticky keys with at least one error in the bucket (per replica; summed across replicas). */
  readonly failingKeys: number;
  /** Σ ln(latency ms) and Σ ln(latency ms)², for the log-latency mSPRT. */
  readonly logSum: number;
  readonly logSqSum: number;
  /** DDSketch key → count. */
  readonly latency: Readonly<Record<string, number>>;
}

/** A window of one version of one service in the bucket starting at `bucketMs`. */
export interface WindowSlice {
  readonly service: string;
  readonly version: string;
  readonly bucketMs: number;
  readonly arm: ArmWindow;
}

export const EMPTY_ARM: ArmWindow = Object.freeze({ requests: 0, errors: 0, failingKeys: 0, logSum: 0, logSqSum: 0, latency: Object.freeze({}) });

/** Sums two windows; the order never matters, so replicas' windows merge exactly. */
export function mergeArms(a: ArmWindow, b: ArmWindow): ArmWindow {
  const latency: Record<string, number> = { ...a.latency };
  for (const key in b.latency) latency[key] = (latency[key] ?? 0) + (b.latency[key] ?? 0);
  return {
    requests: a.requests + b.requests,
    errors: a.errors + b.errors,
    failingKeys: a.failingKeys + b.failingKeys,
    logSum: a.logSum + b.logSum,
    logSqSum: a.logSqSum + b.logSqSum,
    latency,
  };
}

/** The start of the bucket that holds `timeMs`. */
export function bucketStart(timeMs: number, bucketMs: number): number {
  return timeMs - (timeMs % bucketMs);
}
