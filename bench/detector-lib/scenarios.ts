import type { RolloutCommand } from '../../src/core/transition.js';
import { dailyRamp, incident, loadSurge, seededStartMs, slowdownAtFirstStep, STEADY, type SharedProfile } from './environment.js';
import { CANDIDATE, STEP_PLAN } from './production.js';
import type { Scenario } from './traffic.js';

/** Simulated time a run may last: the rollout is judged until it is promoted or rolled back, or until this. */
export const HORIZON_MS = 30 * 60_000;

/**
 * The benchmark card's cell: 50 rps, a
 * 5 % canary, 1 % errors, 20 000 sticky users. A fixed canary stays at 5 %
 * as a manual canary, which the loop judges and may roll back but never moves on.
 */
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
};

/** Which command-line count gives a case its number of runs. */
export type RunCount = 'aa' | 'steady' | 'ab' | 'shift' | 'slow';

export interface BenchCase {
  readonly id: string;
  readonly label: string;
  /** `fixed`: a 5 % manual canary for the whole horizon; `plan`: the step plan, advanced by the loop. */
  readonly rollout: 'fixed' | 'plan';
  /** A/A cases measure false rollbacks; the others time to roll back. */
  readonly healthy: boolean;
  readonly runs: RunCount;
  readonly scenario: Scenario;
  /** What hits both versions during the run, from the run's seed. */
  readonly shared: (seed: number) => SharedProfile;
}

const INCIDENT_MS = 60_000;
const PLAN_MS = STEP_PLAN.reduce((sum, s) => sum + s.bakeMs, 0);
const SURGE_MS = 3 * 60_000;
const SURGE = { rps: 3, latency: 1.5, errors: 2 } as const;
const RAMP = { latency: 2.5, rps: 2 } as const;

const stationary = (id: string, label: string, changes: Partial<Scenario>, healthy = false, runs: RunCount = 'ab'): BenchCase => ({
  id,
  label,
  rollout: 'fixed',
  healthy,
  runs,
  scenario: { ...BASE_SCENARIO, ...changes },
  shared: () => STEADY,
});

const stepped = (
  id: string,
  label: string,
  shared: (seed: number) => SharedProfile,
  changes: Partial<Scenario> = {},
  healthy = true,
  runs: RunCount = 'shift',
): BenchCase => ({
  id,
  label,
  rollout: 'plan',
  healthy,
  runs,
  scenario: { ...BASE_SCENARIO, weightBp: STEP_PLAN[0]?.weightBp ?? 0, ...changes },
  shared,
});

export const BENCH_CASES: readonly BenchCase[] = [
  {
    ...stationary('aa', 'A/A, one shared incident', {}, true, 'aa'),
    // Both arms' error rate ×10 for a minute at a seeded random time.
    shared: (seed) => incident(seededStartMs(seed, HORIZON_MS - INCIDENT_MS), INCIDENT_MS, 10),
  },
  stationary('aa-steady', 'A/A, steady', {}, true, 'steady'),
  stationary('err2', '2× error rate', { errorRatio: 2 }),
  stationary('err5', '5× error rate', { errorRatio: 5 }),
  stationary('total', 'total failure', { errorRatio: Infinity }),
  stationary('slow25', '25 % latency slowdown', { latencyFactor: 1.25 }),
  stepped('aa-slow15', 'A/A, shared slowdown ×1.5 from the first step change', () => slowdownAtFirstStep(1.5)),
  stepped('aa-slow2', 'A/A, shared slowdown ×2 from the first step change', () => slowdownAtFirstStep(2)),
  stepped(
    'aa-ramp',
    `A/A, shared daily ramp (median ${BASE_SCENARIO.latencyMedianMs} → ${BASE_SCENARIO.latencyMedianMs * RAMP.latency} ms, ${BASE_SCENARIO.rps} → ${BASE_SCENARIO.rps * RAMP.rps} rps over ${PLAN_MS / 60_000} min)`,
    () => dailyRamp(PLAN_MS, RAMP.latency, RAMP.rps),
  ),
  stepped(
    'aa-surge',
    `A/A, shared load surge (${SURGE_MS / 60_000} min: rps ×${SURGE.rps}, latency ×${SURGE.latency}, errors ×${SURGE.errors})`,
    (seed) => loadSurge(seededStartMs(seed, PLAN_MS - SURGE_MS), SURGE_MS, SURGE),
  ),
  stepped('slow15', '1.5× slower candidate', () => STEADY, { latencyFactor: 1.5 }, false, 'slow'),
  stepped('err2-late', '2× error rate from the 50 % step on', () => STEADY, { errorRatio: 2, fromStep: 2 }, false, 'slow'),
];

/** The command that starts a case's rollout, as an operator would send it. */
export function startCommand(c: BenchCase): RolloutCommand {
  return c.rollout === 'fixed'
    ? { type: 'start', candidate: CANDIDATE, weightBp: c.scenario.weightBp }
    : { type: 'start', candidate: CANDIDATE, steps: STEP_PLAN };
}

export function benchCase(id: string): BenchCase {
  const found = BENCH_CASES.find((c) => c.id === id);
  if (found === undefined) throw new Error(`unknown bench case ${id}`);
  return found;
}
