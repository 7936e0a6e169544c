import { SwitchyardError } from './errors.js';

/**
 * The rollout state document: one per service, versioned by `revision`.
 * The plan (strategy, steps) is kept apart from the progress (stepIndex, phase,
 * timestamps), after Argo Rollouts.
 */

/** Bumped when the stored shape changes; a replica refuses documents newer than it knows. */
export const STATE_SCHEMA_VERSION = 1;

export const PHASES = ['stable', 'progressing', 'paused', 'promoted', 'rolled_back'] as const;
export type Phase = (typeof PHASES)[number];

export const STRATEGIES = ['canary', 'blue-green'] as const;
export type Strategy = (typeof STRATEGIES)[number];

export interface Step {
  readonly weightBp: number;
  readonly bakeMs: number;
}

export type VerdictResult = 'pass' | 'fail' | 'inconclusive';

/** One figure of a verdict beside the threshold it was judged against. */
export interface VerdictCheck {
  readonly name: string;
  readonly value: number | null;
  readonly threshold: number;
  readonly result: VerdictResult;
  readonly detail: string;
}

export interface Verdict {
  readonly result: VerdictResult;
  /** One line an operator reads at 3 a.m. */
  readonly reason: string;
  readonly at: number;
  /** Hold progression without failing (a sample-ratio mismatch); too little data is `inconclusive`, not a hold. */
  readonly hold: boolean;
  readonly checks: readonly VerdictCheck[];
  readonly figures: Readonly<Record<string, number>>;
}

export interface RolloutState {
  readonly schemaVersion: number;
  readonly service: string;
  readonly revision: number;
  readonly stable: string;
  /** The version being released; kept after a rollback so the record shows what was rolled back. */
  readonly candidate: string | null;
  /** The colour that served before the last promotion, kept warm for an instant switch back. */
  readonly previous: string | null;
  readonly strategy: Strategy;
  readonly steps: readonly Step[];
  readonly stepIndex: number;
  readonly weightBp: number;
  readonly phase: Phase;
  readonly salt: string;
  readonly startedAt: number | null;
  readonly stepStartedAt: number | null;
  /** When the current weight took effect (start, a set weight, a step, a switch). */
  readonly weightSince: number | null;
  readonly updatedAt: number;
  readonly reason: string | null;
  readonly lastVerdict: Verdict | null;
}

/** A rollout is active while a candidate may receive weighted traffic. */
export function isActive(state: RolloutState): boolean {
  return state.phase === 'progressing' || state.phase === 'paused';
}

/** The state a service starts from when the store has none: everyone on stable. */
export function initialState(input: {
  service: string;
  stable: string;
  strategy: Strategy;
  steps: readonly Step[];
  now: number;
}): RolloutState {
  return {
    schemaVersion: STATE_SCHEMA_VERSION,
    service: input.service,
    revision: 1,
    stable: input.stable,
    candidate: null,
    previous: null,
    strategy: input.strategy,
    steps: input.steps,
    stepIndex: 0,
    weightBp: 0,
    phase: 'stable',
    salt: input.service,
    startedAt: null,
    stepStartedAt: null,
    weightSince: null,
    updatedAt: input.now,
    reason: null,
    lastVerdict: null,
  };
}

/**
 * Reads a stored document. A document from a newer Switchyard is refused, never
 * misread; the caller keeps routing on what it knew before.
 */
export function parseStoredState(json: string): RolloutState {
  const doc = JSON.parse(json) as RolloutState;
  if (typeof doc.schemaVersion !== 'number' || doc.schemaVersion > STATE_SCHEMA_VERSION) {
    throw new SwitchyardError(
      'SY_ERR_SCHEMA_TOO_NEW',
      `state of service ${String(doc.service)} has schema version ${String(doc.schemaVersion)}; this replica understands up to ${STATE_SCHEMA_VERSION}, upgrade it`,
      { service: doc.service, schemaVersion: doc.schemaVersion },
    );
  }
  return doc;
}
