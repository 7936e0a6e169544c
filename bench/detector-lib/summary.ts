import { censoredQuantile, wilson } from './stats.js';
import type { BenchCase } from './scenarios.js';
import type { BenchOutcome } from './worker.js';

/** One scenario's runs, summed up for the tables and the target lines. */
export interface CaseSummary {
  readonly case: BenchCase;
  readonly runs: number;
  readonly detector: ArmSummary;
  readonly flagger: ArmSummary;
  /** Step plans only: promotions and the median time to promote (over the promoted runs). */
  readonly promoted: number;
  readonly promoteMedianMs: number | null;
  /** Runs the loop paused (too many inconclusive verdicts in a row after a bake). */
  readonly paused: number;
  /** Runs that ever left their first step (advanced to step 2, or promoted). */
  readonly passedFirstStep: number;
}

export interface ArmSummary {
  readonly rolledBack: number;
  readonly medianMs: number | null;
  readonly p90Ms: number | null;
  readonly ciLow: number;
  readonly ciHigh: number;
}

function summariseArm(times: readonly (number | null)[], healthy: boolean): ArmSummary {
  const rolledBack = times.filter((t) => t !== null).length;
  const ci = wilson(rolledBack, times.length);
  // For A/A the times are those of the false rollbacks; for regressions misses count as +∞.
  const pool = healthy ? times.filter((t) => t !== null) : times;
  return { rolledBack, medianMs: censoredQuantile(pool, 0.5), p90Ms: censoredQuantile(pool, 0.9), ciLow: ci.low, ciHigh: ci.high };
}

export function summarise(c: BenchCase, outcomes: readonly BenchOutcome[]): CaseSummary {
  const mine = outcomes.filter((o) => o.caseId === c.id);
  const promotions = mine.map((o) => o.promotedMs).filter((t): t is number => t !== null);
  return {
    case: c,
    runs: mine.length,
    detector: summariseArm(mine.map((o) => o.detectorMs), c.healthy),
    flagger: summariseArm(mine.map((o) => o.flaggerMs), c.healthy),
    promoted: promotions.length,
    promoteMedianMs: censoredQuantile(promotions, 0.5),
    paused: mine.filter((o) => o.pausedMs !== null).length,
    passedFirstStep: mine.filter((o) => o.advancesMs.length > 0).length,
  };
}

/** Runs and false rollbacks over several A/A summaries, with the Wilson interval of the pooled rate. */
export function pooled(rows: readonly CaseSummary[]): { runs: number; rolledBack: number; ciHigh: number } {
  const runs = rows.reduce((n, r) => n + r.runs, 0);
  const rolledBack = rows.reduce((n, r) => n + r.detector.rolledBack, 0);
  return { runs, rolledBack, ciHigh: wilson(rolledBack, runs).high };
}
