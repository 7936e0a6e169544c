import { analyseFrom, type AnalysisConfig } from '../core/analysis/detector.js';
import type { RolloutState, ShadowVerdict } from '../core/rollout-state.js';
import { analyseDrift, type DriftConfig } from '../core/shadow/drift.js';
import type { PredictionKind } from '../core/shadow/prediction.js';
import { shadowBaseSeries, shadowCompareSeries, shadowSeries } from '../core/shadow/series.js';
import { SettledWindows, type SettledWindowsOptions } from './settled-windows.js';

/** Each pair records both answers, so the shadow's share of the two series is one half. */
const PAIRED_SHARE_BP = 5000;

export interface ShadowJudgeOptions extends SettledWindowsOptions {
  readonly configFor: (service: string) => AnalysisConfig;
  /** The service's prediction comparison (null: none configured) and drift policy; default none. */
  readonly comparisonFor?: (service: string) => { readonly kind: PredictionKind | null; readonly drift: DriftConfig };
}

/**
 * Judges a service's shadow: the same detector as a rollout, on the shadow's
 * answers against stable's answers to the same mirrored requests
 * (`shadow:<v>` against `shadow-base:<v>`), with stable's windows before the
 * shadow started as the latency baseline; and, where a prediction field is
 * configured, prediction drift on the paired comparisons (docs/analysis.md, The statistics).
 */
export class ShadowJudge {
  private readonly windows: SettledWindows;

  constructor(private readonly o: ShadowJudgeOptions) {
    this.windows = new SettledWindows(o);
  }

  async judge(service: string, state: RolloutState, now: number): Promise<ShadowVerdict | null> {
    const { shadow } = state;
    if (shadow === null) {
      this.windows.forget(service);
      return null;
    }
    const v = shadow.version;
    const series = { baseline: state.stable, stable: shadowBaseSeries(v), candidate: shadowSeries(v), extra: shadowCompareSeries(v) };
    const w = await this.windows.load(service, series, `${v}@${shadow.since}`, shadow.since, now);
    const buckets = w.buckets.map((b) => ({ bucketMs: b.bucketMs, stable: b.stable, candidate: b.candidate, weightBp: PAIRED_SHARE_BP }));
    const input = { now, weightBp: PAIRED_SHARE_BP, weightSinceMs: shadow.since, baseline: w.baseline, buckets };
    const { verdict, checkpoint } = analyseFrom(input, this.o.configFor(service), w.checkpoint);
    w.checkpoint = checkpoint;
    const comparison = this.o.comparisonFor?.(service);
    const drift = comparison === undefined || comparison.kind === null ? null : analyseDrift(w.buckets.map((b) => b.extra), comparison.kind, comparison.drift);
    return {
      version: v,
      result: verdict.result,
      reason: verdict.reason,
      checks: verdict.checks,
      figures: verdict.figures,
      drift: drift === null ? null : { flagged: drift.flagged, rollback: drift.rollback, reason: drift.reason, figures: drift.figures },
    };
  }
}
