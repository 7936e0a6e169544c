import { Rng } from './rng.js';
import type { Scenario } from './traffic.js';
import { HORIZON_MS } from './run.js';

/** The benchmark card's cell (research/canary-statistics.md §4.1): 50 rps, 5 % canary, 1 % errors. */
export const BASE_SCENARIO: Scenario = {
  rps: 50,
  weightBp: 500,
  users: 20_000,
  baseErrorRate: 0.01,
  errorRatio: 1,
  latencyFactor: 1,
  latencyMedianMs: 100,
  latencySigma: 0.5,
  retryMean: 2,
  incident: null,
};

export interface BenchCase {
  readonly id: string;
  readonly label: string;
  /** A/A cases measure false rollbacks; the others time to roll back. */
  readonly healthy: boolean;
  readonly scenario: (seed: number) => Scenario;
}

const INCIDENT_MS = 60_000;

/** One shared incident per run (both arms' error rate ×10 for a minute) at a seeded random time. */
function withIncident(s: Scenario, seed: number): Scenario {
  const startMs = new Rng(seed ^ 0x5bd1e995).int((HORIZON_MS - INCIDENT_MS) / 1000) * 1000;
  return { ...s, incident: { startMs, durationMs: INCIDENT_MS, factor: 10 } };
}

export const BENCH_CASES: readonly BenchCase[] = [
  { id: 'aa', label: 'A/A healthy, one shared incident', healthy: true, scenario: (seed) => withIncident(BASE_SCENARIO, seed) },
  { id: 'aa-steady', label: 'A/A healthy, steady', healthy: true, scenario: () => BASE_SCENARIO },
  { id: 'err2', label: '2× error rate', healthy: false, scenario: () => ({ ...BASE_SCENARIO, errorRatio: 2 }) },
  { id: 'err5', label: '5× error rate', healthy: false, scenario: () => ({ ...BASE_SCENARIO, errorRatio: 5 }) },
  { id: 'total', label: 'total failure', healthy: false, scenario: () => ({ ...BASE_SCENARIO, errorRatio: Infinity }) },
  { id: 'slow25', label: '25 % latency slowdown', healthy: false, scenario: () => ({ ...BASE_SCENARIO, latencyFactor: 1.25 }) },
];

export function benchCase(id: string): BenchCase {
  const found = BENCH_CASES.find((c) => c.id === id);
  if (found === undefined) throw new Error(`unknown bench case ${id}`);
  return found;
}
