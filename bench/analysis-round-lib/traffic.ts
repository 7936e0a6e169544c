import type { WindowSlice } from '../../src/core/analysis/window.js';
import { Rng } from '../detector-lib/rng.js';
import { BASE_SCENARIO } from '../detector-lib/scenarios.js';
import { candidateUsers, simulateBucket, type Population, type Scenario } from '../detector-lib/traffic.js';
import { CANDIDATE, STABLE } from './fleet.js';

/**
 * Seeded analysis windows for a fleet, from the detector bench's traffic
 * model (Poisson arrivals, sticky users, clustered errors, log-normal latency
 * in the windows' DDSketch histograms): each service has its own stream, so
 * its buckets differ from every other service's as real ones do.
 */
export class FleetTraffic {
  private readonly streams: ReadonlyArray<{ readonly service: string; readonly rng: Rng; readonly users: Population }>;
  readonly scenario: Scenario;

  constructor(names: readonly string[], rps: number, seed: number) {
    this.scenario = { ...BASE_SCENARIO, rps };
    this.streams = names.map((service, i) => {
      const rng = new Rng((seed * 1_000_003 + i) >>> 0);
      return { service, rng, users: candidateUsers(rng, this.scenario) };
    });
  }

  get services(): number {
    return this.streams.length;
  }

  /**
   * The slices of service `index` for the buckets in [fromMs, toMs), with the
   * candidate at `weightBp` (0 before the rollout: stable alone); a version
   * without requests in a bucket writes nothing, as the flusher does.
   */
  slices(index: number, fromMs: number, toMs: number, bucketMs: number, weightBp: number): WindowSlice[] {
    const stream = this.streams[index];
    if (stream === undefined) throw new Error(`no service ${index}`);
    stream.users.weightBp = weightBp;
    const out: WindowSlice[] = [];
    for (let b = fromMs; b < toMs; b += bucketMs) {
      const bucket = simulateBucket(stream.rng, this.scenario, stream.users, b, bucketMs);
      if (bucket.stable.requests > 0) out.push({ service: stream.service, version: STABLE, bucketMs: b, arm: bucket.stable });
      if (bucket.candidate.requests > 0) out.push({ service: stream.service, version: CANDIDATE, bucketMs: b, arm: bucket.candidate });
    }
    return out;
  }
}
