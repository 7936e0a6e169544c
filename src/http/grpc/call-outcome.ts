import type { Outcome } from '../../app/request-observer.js';
import { GRPC_DEADLINE_EXCEEDED } from '../../core/grpc-status.js';

/**
 * How a call that ended with `code` counts, live or shadow alike: a failing
 * code is the version's failure, DEADLINE_EXCEEDED as a timeout.
 */
export function outcomeOf(code: number, failing: ReadonlySet<number>): Outcome {
  if (!failing.has(code)) return 'ok';
  return code === GRPC_DEADLINE_EXCEEDED ? 'timeout' : 'status';
}
