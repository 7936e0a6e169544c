import { performance } from 'node:perf_hooks';

/** Event-loop utilisation above which the process counts as saturated: its loop was idle less than 5 % of the time. */
export const SATURATED_ELU = 0.95;

/**
 * Whether this process's event loop was saturated since the last call: the
 * share of time it was busy (Node's event-loop utilisation). A saturated
 * gateway's own queueing dominates the latencies it records (see
 * GATEWAY_SATURATED in src/core/analysis/window.ts).
 */
export function loopSaturation(threshold = SATURATED_ELU): () => boolean {
  let last = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    return busy >= threshold;
  };
}
