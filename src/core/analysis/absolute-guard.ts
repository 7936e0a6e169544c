import type { AnalysisConfig } from './config.js';
import { errorCounts, recentBuckets, type AnalysisBucket } from './input.js';

/**
 * The absolute guard for catastrophic failure (after the SRE workbook): the
 * candidate's own error ratio over the last window, whatever stable does, so
 * that a candidate that also breaks the control is still rolled back.
 */
export interface AbsoluteGuard {
  /** Candidate requests and errors in the window, a failing key's retries counted once when deduplicating. */
  readonly requests: number;
  readonly errors: number;
  /** errors / requests, or null below the minimum number of requests. */
  readonly ratio: number | null;
  readonly fail: boolean;
}

export function absoluteGuard(buckets: ReadonlyArray<AnalysisBucket>, config: AnalysisConfig): AbsoluteGuard {
  let requests = 0;
  let errors = 0;
  for (const b of recentBuckets(buckets, config.absoluteWindowMs)) {
    // Deduplicated like the e-process: a key's retries count once,
    // or one client retrying a failure 5 times would read as 50 % errors.
    const counts = errorCounts(b.candidate, config.dedupByKey);
    requests += counts.requests;
    errors += counts.events;
  }
  const ratio = requests >= config.absoluteMinRequests ? Math.min(1, errors / requests) : null;
  return { requests, errors, ratio, fail: ratio !== null && ratio >= config.absoluteErrorRate };
}
