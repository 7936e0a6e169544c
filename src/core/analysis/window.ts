import { SwitchyardError } from '../errors.js';

/**
 * Analysis windows: per service, version and time bucket, counts that add up
 * exactly across replicas and across buckets (docs/analysis.md, The statistics).
 * Latency is a log-bucketed histogram with the DDSketch mapping.
 */

/** DDSketch relative accuracy a = 2 %: γ = (1 + a) / (1 − a), about 276 keys for 1 ms..60 s. */
export const LATENCY_RELATIVE_ACCURACY = 0.02;
const GAMMA = (1 + LATENCY_RELATIVE_ACCURACY) / (1 - LATENCY_RELATIVE_ACCURACY);
const LN_GAMMA = Math.log(GAMMA);
/** Latencies below this are recorded as this (a key for 0 does not exist). */
const MIN_LATENCY_MS = 0.01;

/** key(v) = ceil(ln(v) / ln(γ)) for any v > 0; latencyValue(key) is within relative error a of v. */
export function sketchKey(v: number): number {
  return Math.ceil(Math.log(v) / LN_GAMMA);
}

/** The sketch key of a latency in milliseconds, at least MIN_LATENCY_MS. */
export function latencyKey(ms: number): number {
  return sketchKey(Math.max(ms, MIN_LATENCY_MS));
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
  /**
   * Named counters a series needs beyond the above (a shadow comparison's sums
   * and score bins, src/core/shadow/comparison.ts), summed like the rest. Names
   * match COUNTER_NAME; absent on windows that have none.
   */
  readonly counters?: Readonly<Record<string, number>>;
}

/** A window of one version of one service in the bucket starting at `bucketMs`. */
export interface WindowSlice {
  readonly service: string;
  readonly version: string;
  readonly bucketMs: number;
  readonly arm: ArmWindow;
}

export const EMPTY_ARM: ArmWindow = Object.freeze({ requests: 0, errors: 0, failingKeys: 0, logSum: 0, logSqSum: 0, latency: Object.freeze({}) });

/**
 * Sums two windows; the order never matters, so replicas' windows merge exactly
 * (whole counts exactly, float sums up to the rounding of their order). The
 * result carries `counters` only when one of them does.
 */
export function mergeArms(a: ArmWindow, b: ArmWindow): ArmWindow {
  const merged: Mutable<ArmWindow> = {
    requests: a.requests + b.requests,
    errors: a.errors + b.errors,
    failingKeys: a.failingKeys + b.failingKeys,
    logSum: a.logSum + b.logSum,
    logSqSum: a.logSqSum + b.logSqSum,
    latency: addCounts(a.latency, b.latency),
  };
  // Set, not spread in: an object spread with more properties is a slow path in V8, and this runs per pair.
  if (a.counters !== undefined || b.counters !== undefined) merged.counters = addCounts(a.counters ?? {}, b.counters ?? {});
  return merged;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The sum of many windows in one pass, the same as folding them with mergeArms without copying the running sum each time. */
export function sumArms(arms: readonly ArmWindow[]): ArmWindow {
  let requests = 0, errors = 0, failingKeys = 0, logSum = 0, logSqSum = 0;
  const latency: Record<string, number> = {};
  let counters: Record<string, number> | undefined;
  for (const arm of arms) {
    requests += arm.requests;
    errors += arm.errors;
    failingKeys += arm.failingKeys;
    logSum += arm.logSum;
    logSqSum += arm.logSqSum;
    addInto(latency, arm.latency);
    if (arm.counters !== undefined) addInto((counters ??= {}), arm.counters);
  }
  const sum: Mutable<ArmWindow> = { requests, errors, failingKeys, logSum, logSqSum, latency };
  if (counters !== undefined) sum.counters = counters;
  return sum;
}

function addInto(sum: Record<string, number>, b: Readonly<Record<string, number>>): void {
  for (const key in b) sum[key] = (sum[key] ?? 0) + (b[key] ?? 0);
}

function addCounts(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): Record<string, number> {
  const sum: Record<string, number> = { ...a };
  addInto(sum, b);
  return sum;
}

/** A counter name: it becomes part of a store field (`<version>|c<name>`), so no separators. */
export const COUNTER_NAME = /^[a-z0-9_]+$/i;

/**
 * Counted in a version's window for each flush in which the gateway process
 * that recorded it was itself saturated (its event loop busy nearly all the
 * time). Its own queueing then dominates the latencies it measures, and it
 * does not fall evenly on the versions: on a saturated proxy the version with
 * the smaller share was measured 40-50 % slower in A/A runs. The detector does
 * not judge latency in such buckets; errors are still judged.
 */
export const GATEWAY_SATURATED = 'gwsat';

/** Whether any replica that recorded this bucket was saturated. */
export function recordedSaturated(arm: ArmWindow): boolean {
  return (arm.counters?.[GATEWAY_SATURATED] ?? 0) > 0;
}

/**
 * Refuses (SY_ERR_VALIDATION) a slice whose counters a store could not keep: a
 * name outside COUNTER_NAME, or a value that is not finite (Redis refuses to
 * add NaN or ∞, and one would poison every replica's sum). Stores call it on
 * every slice before writing any, so a bad slice leaves nothing half written.
 */
export function checkCounters(slice: WindowSlice): void {
  for (const name in slice.arm.counters) {
    const value = slice.arm.counters[name];
    if (!COUNTER_NAME.test(name) || !Number.isFinite(value)) {
      const what = `counter ${JSON.stringify(name)} = ${String(value)} of ${slice.service}/${slice.version}`;
      throw new SwitchyardError('SY_ERR_VALIDATION', `${what}: names must match ${COUNTER_NAME.source} and values be finite`);
    }
  }
}

/** The start of the bucket that holds `timeMs`. */
export function bucketStart(timeMs: number, bucketMs: number): number {
  return timeMs - (timeMs % bucketMs);
}

/**
 * The latency a window records: at least MIN_LATENCY_MS (ln 0 is −∞), and a
 * non-finite reading (a broken timer) as that floor too, because one NaN or ∞ in
 * Σ ln would poison the sums of every replica for that bucket.
 */
export function recordableLatencyMs(ms: number): number {
  return Number.isFinite(ms) && ms > MIN_LATENCY_MS ? ms : MIN_LATENCY_MS;
}

/** Sums the slices of the same service, version and bucket; the result has one slice per such triple. */
export function mergeSlices(slices: readonly WindowSlice[]): WindowSlice[] {
  const merged = new Map<string, WindowSlice>();
  for (const slice of slices) {
    const id = `${slice.service}\u0000${slice.version}\u0000${slice.bucketMs}`;
    const seen = merged.get(id);
    merged.set(id, seen === undefined ? slice : { ...seen, arm: mergeArms(seen.arm, slice.arm) });
  }
  return [...merged.values()];
}

/** A day of 1-s buckets: a larger read is a caller's bug (a range from 0), refused before it reaches the store. */
export const MAX_BUCKETS_PER_READ = 86_400;

/** The starts of the `widthMs` buckets with `fromMs <= start < toMs`, oldest first (starts are multiples of the width). */
export function bucketStarts(fromMs: number, toMs: number, widthMs: number): number[] {
  if (!Number.isInteger(widthMs) || widthMs <= 0) {
    throw new SwitchyardError('SY_ERR_VALIDATION', `window width must be a positive whole number of ms, got ${widthMs}`);
  }
  const first = Math.ceil(fromMs / widthMs) * widthMs;
  const count = Math.max(0, Math.ceil((toMs - first) / widthMs));
  if (count > MAX_BUCKETS_PER_READ) {
    throw new SwitchyardError('SY_ERR_VALIDATION', `a window read spans ${count} buckets, more than ${MAX_BUCKETS_PER_READ}; read it in parts`);
  }
  return Array.from({ length: count }, (_, i) => first + i * widthMs);
}
