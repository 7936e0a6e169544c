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
  /**
   * A shadow step: the candidate takes no live traffic (weightBp 0) and this share
   * of sticky keys, in basis points, is mirrored to it. Shadow steps only come
   * before the first weighted step.
   */
  readonly shadowBp?: number;
}

/** True for a step that mirrors traffic to the candidate instead of giving it any. */
export function isShadowStep(step: Step | undefined): boolean {
  return step?.shadowBp !== undefined && step.shadowBp > 0;
}

/**
 * A shadow (dark launch): a version that receives copies of live requests and
 * whose answers are compared with stable's, never returned. One per service.
 */
export interface ShadowState {
  /** The version that receives copies of live requests; its answers are never returned to clients. */
  readonly version: string;
  /** Share of sticky keys mirrored, 0..10000 basis points, chosen by hashing the key with `salt`. */
  readonly sampleBp: number;
  /** Its own salt (not the routing salt), so the sample does not line up with the canary's users: `${service}:shadow`. */
  readonly salt: string;
  /** When this version started being shadowed; a new sample share keeps it. */
  readonly since: number;
}

/** The salt of a service's shadow sample, the same for every shadowed version. */
export function shadowSalt(service: string): string {
  return `${service}:shadow`;
}

export type VerdictResult = 'pass' | 'fail' | 'inconclusive';

/** One figure of a verdict beside the threshold it was judged against. */
export interface VerdictCheck {
  readonly name: string;
  readonly value: number | null;
  readonly threshold: number;
  readonly result: VerdictResult;
  /** The figures behind the value: counts, rates, where the threshold comes from. */
  readonly detail: string;
  /** What the check says, in words an on-call engineer reads: "evidence 1.2 of the 200 that roll back: no sign of regression". */
  readonly meaning: string;
}

/** Why the analysis holds a rollout it would otherwise move, and since when (the first round that held it). */
export interface Hold {
  /** `sample-ratio`: the candidate's share of requests does not match its weight; `shadow-drift`: a shadow step's predictions drift. */
  readonly kind: 'sample-ratio' | 'shadow-drift';
  readonly reason: string;
  readonly since: number;
}

/** Prediction drift of the shadow against stable (docs/analysis.md, The statistics). */
export interface ShadowDrift {
  /** Drift beyond the configured tolerance: progression holds on a shadow step. */
  readonly flagged: boolean;
  /** The configured action is rollback and drift was found. */
  readonly rollback: boolean;
  readonly reason: string;
  readonly figures: Readonly<Record<string, number>>;
}

export interface ShadowVerdict {
  readonly version: string;
  /** The detector's judgement of the shadow against stable's answers to the same requests. */
  readonly result: VerdictResult;
  readonly reason: string;
  readonly checks: readonly VerdictCheck[];
  readonly figures: Readonly<Record<string, number>>;
  /** Prediction drift (docs/analysis.md, The statistics), null when no prediction field is configured. */
  readonly drift: ShadowDrift | null;
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
  /** The shadow's verdict, when a shadow was judged in the same round. */
  readonly shadow?: ShadowVerdict | null;
  /**
   * The start of the rollout this verdict judged (its `startedAt`), or null for a
   * shadow judged while no rollout runs. The API shows a verdict only beside the
   * rollout it judged; absent in verdicts stored before it existed.
   */
  readonly startedAt?: number | null;
  /** Set by the analysis loop: what holds the rollout, if anything. */
  readonly held?: Hold | null;
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
  /** The version live traffic is mirrored to, if any; independent of the candidate's weight. */
  readonly shadow: ShadowState | null;
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
  /** A standing shadow from the config. */
  shadow?: { readonly version: string; readonly sampleBp: number } | null;
}): RolloutState {
  const shadow = input.shadow ?? null;
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
    shadow: shadow === null ? null : { version: shadow.version, sampleBp: shadow.sampleBp, salt: shadowSalt(input.service), since: input.now },
  };
}

/**
 * Reads a stored document. A document from a newer Switchyard is refused, never
 * misread; the caller keeps routing on what it knew before.
 */
export function parseStoredState(json: string): RolloutState {
  const doc = JSON.parse(json) as Omit<RolloutState, 'shadow'> & { readonly shadow?: ShadowState | null };
  if (typeof doc.schemaVersion !== 'number' || doc.schemaVersion > STATE_SCHEMA_VERSION) {
    throw new SwitchyardError(
      'SY_ERR_SCHEMA_TOO_NEW',
      `state of service ${String(doc.service)} has schema version ${String(doc.schemaVersion)}; this replica understands up to ${STATE_SCHEMA_VERSION}, upgrade it`,
      { service: doc.service, schemaVersion: doc.schemaVersion },
    );
  }
  // Documents written before shadows existed have no field; the schema version did not change for it.
  return { ...doc, shadow: doc.shadow ?? null };
}
