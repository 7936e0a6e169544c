import type { Outcome } from '../../app/request-observer.js';
import { DEFAULT_FAILING_CODES, GRPC_DEADLINE_EXCEEDED, GRPC_UNAVAILABLE, parseGrpcCode } from '../../core/grpc-status.js';
import type { Routed } from '../proxy/resolve.js';

/** A service's failing codes, as a set, once per service config. */
const failingSets = new WeakMap<object, ReadonlySet<number>>();

export function failingCodes(routed: Routed): ReadonlySet<number> {
  const config = routed.route.config;
  let set = failingSets.get(config);
  if (set === undefined) {
    set = new Set(config.grpc?.failingCodes ?? DEFAULT_FAILING_CODES.map((name) => parseGrpcCode(name) ?? GRPC_UNAVAILABLE));
    failingSets.set(config, set);
  }
  return set;
}

/**
 * How a call that ended with `code` counts, live or shadow alike: a failing
 * code is the version's failure, DEADLINE_EXCEEDED as a timeout.
 */
export function outcomeOf(code: number, failing: ReadonlySet<number>): Outcome {
  if (!failing.has(code)) return 'ok';
  return code === GRPC_DEADLINE_EXCEEDED ? 'timeout' : 'status';
}
