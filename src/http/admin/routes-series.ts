import { Router } from 'express';
import { z } from 'zod';
import { sparseQuantileMs } from '../../core/analysis/latency-test.js';
import type { WindowSlice } from '../../core/analysis/window.js';
import { parseSeries, shadowSeries } from '../../core/shadow/series.js';
import type { AdminDeps } from './deps.js';
import { serviceParam } from './reads.js';
import { parseInput } from './schemas.js';

/**
 * The console's charts: per version (and per shadow, as `shadow:<v>`), request
 * rate, error ratio and p99 latency over the last minutes; per shadow with a
 * prediction field, the share of compared pairs that disagreed.
 */

export const MAX_SERIES_MINUTES = 60;
export const DEFAULT_SERIES_MINUTES = 5;
export const DEFAULT_SERIES_STEP_S = 5;
/**
 * The width the windows are read at. Stored buckets start on multiples of the
 * configured analysis bucket (1 s by default), so a 1-s read finds every bucket
 * of a whole-second width; the wiring may pass its own bucket width instead.
 */
export const SERIES_READ_WIDTH_MS = 1000;
const P99 = 0.99;

const wholeNumber = (min: number, max: number, fallback: number) => {
  const message = `must be a whole number ${min}..${max}`;
  return z
    .string({ error: message })
    .regex(/^\d{1,4}$/, { error: message })
    .transform(Number)
    .pipe(z.number().int().min(min, { error: message }).max(max, { error: message }))
    .optional()
    .transform((n) => n ?? fallback);
};

export const seriesQuery = z.strictObject({
  minutes: wholeNumber(1, MAX_SERIES_MINUTES, DEFAULT_SERIES_MINUTES),
  step: wholeNumber(1, 60, DEFAULT_SERIES_STEP_S),
});

export interface VersionSeries {
  /** Requests per second in each point. */
  readonly rate: number[];
  /** Errors / requests in each point; null where the version had no requests. */
  readonly errorRatio: Array<number | null>;
  /** p99 latency in ms from the DDSketch keys, by the verdict's rank rule; null where the version had no requests. */
  readonly p99Ms: Array<number | null>;
  readonly requests: number[];
  readonly errors: number[];
}

export interface Series {
  readonly service: string;
  readonly stepMs: number;
  readonly from: string;
  readonly to: string;
  /** Start of each point, in seconds since the epoch (what uPlot wants on its x axis). */
  readonly times: number[];
  readonly versions: Record<string, VersionSeries>;
  readonly comparisons: Record<string, ComparisonSeries>;
}

export interface ComparisonSeries {
  readonly pairs: number[];
  /** Disagreements / pairs in each point; null where no pair was compared. */
  readonly disagreementRatio: Array<number | null>;
}

interface Point {
  requests: number;
  errors: number;
  latency: Map<number, number>;
}

/** Folds stored windows (any bucket width) into `stepMs` points from `fromMs`. */
export function buildSeries(
  service: string,
  slices: readonly WindowSlice[],
  versions: readonly string[],
  fromMs: number,
  toMs: number,
  stepMs: number,
): Series {
  const count = Math.max(0, Math.ceil((toMs - fromMs) / stepMs));
  // Stable's answers to mirrored requests are already in stable's own series.
  const charted = slices.filter((s) => parseSeries(s.version).kind !== 'shadow-base');
  const names = new Set(versions);
  for (const slice of charted) names.add(slice.version);
  const points = new Map<string, Point[]>();
  for (const name of [...names].sort()) {
    points.set(name, Array.from({ length: count }, () => ({ requests: 0, errors: 0, latency: new Map<number, number>() })));
  }
  for (const slice of charted) {
    const index = Math.floor((slice.bucketMs - fromMs) / stepMs);
    const point = points.get(slice.version)?.[index];
    if (point === undefined) continue;
    point.requests += slice.arm.requests;
    point.errors += slice.arm.errors;
    for (const key in slice.arm.latency) {
      const k = Number(key);
      point.latency.set(k, (point.latency.get(k) ?? 0) + (slice.arm.latency[key] ?? 0));
    }
  }
  const seconds = stepMs / 1000;
  const out: Record<string, VersionSeries> = {};
  const comparisons: Record<string, ComparisonSeries> = {};
  for (const [name, list] of points) {
    const series = parseSeries(name);
    // A comparison window's sketch holds score differences, not latencies.
    if (series.kind === 'shadow-cmp') {
      comparisons[series.version] = { pairs: list.map((p) => p.requests), disagreementRatio: list.map((p) => (p.requests === 0 ? null : round(p.errors / p.requests))) };
      continue;
    }
    out[name] = {
      rate: list.map((p) => round(p.requests / seconds)),
      errorRatio: list.map((p) => (p.requests === 0 ? null : round(p.errors / p.requests))),
      p99Ms: list.map((p) => (p.requests === 0 ? null : roundOrNull(sparseQuantileMs(p.latency, P99)))),
      requests: list.map((p) => p.requests),
      errors: list.map((p) => p.errors),
    };
  }
  return {
    service,
    stepMs,
    from: new Date(fromMs).toISOString(),
    to: new Date(toMs).toISOString(),
    times: Array.from({ length: count }, (_, i) => (fromMs + i * stepMs) / 1000),
    versions: out,
    comparisons,
  };
}

function round(n: number): number {
  return Math.round(n * 10_000) / 10_000;
}

function roundOrNull(n: number | null): number | null {
  return n === null ? null : round(n);
}

export function seriesRouter(deps: AdminDeps): Router {
  const router = Router();

  router.get('/services/:service/series', async (req, res) => {
    const service = serviceParam(req, deps.catalog);
    const query = parseInput(seriesQuery, req.query, 'query');
    const stepMs = query.step * 1000;
    // Points end at the start of the current step, so the newest point is never half filled.
    const toMs = Math.floor(deps.clock.now() / stepMs) * stepMs;
    const fromMs = toMs - query.minutes * 60_000;
    const slices = await deps.windows(service, fromMs, toMs, SERIES_READ_WIDTH_MS);
    const state = deps.routing.view(service)?.state;
    const versions =
      state === undefined
        ? []
        : [state.stable, ...(state.candidate === null ? [] : [state.candidate]), ...(state.shadow === null ? [] : [shadowSeries(state.shadow.version)])];
    res.json(buildSeries(service, slices, versions, fromMs, toMs, stepMs));
  });

  return router;
}
