import type { AuditEntry, AuditSubject } from '../../core/audit.js';
import type { Override } from '../../core/override.js';
import { isManualCanary } from '../../core/progression.js';
import { isActive, type Hold, type RolloutState, type ShadowState, type ShadowVerdict, type Step, type Verdict, type VerdictCheck } from '../../core/rollout-state.js';
import { bpToPercent } from '../../core/weight.js';

/** The API's view of stored documents: weights in percent, times as ISO strings. */

function iso(ms: number): string;
function iso(ms: number | null): string | null;
function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export interface Staleness {
  /** True when the store could not be read and this is the replica's last known state. */
  readonly stale: boolean;
  readonly staleReason?: string;
}

/** Field by field, so the API's shape is this list and not whatever the verdict record happens to hold. */
function presentCheck(check: VerdictCheck): object {
  return { name: check.name, value: check.value, threshold: check.threshold, result: check.result, detail: check.detail, meaning: check.meaning };
}

function presentShadowVerdict(shadow: ShadowVerdict | null | undefined): object | null {
  if (shadow === null || shadow === undefined) return null;
  return { version: shadow.version, result: shadow.result, reason: shadow.reason, checks: shadow.checks.map(presentCheck), figures: shadow.figures, drift: shadow.drift };
}

function presentHold(hold: Hold | null | undefined): object | null {
  if (hold === null || hold === undefined) return null;
  return { kind: hold.kind, reason: hold.reason, since: iso(hold.since) };
}

/** Verdicts stored before `startedAt` and `held` existed lack them: shown as null. */
function presentVerdict(verdict: Verdict | null | undefined): object | null {
  if (verdict === null || verdict === undefined) return null;
  return {
    result: verdict.result,
    reason: verdict.reason,
    at: iso(verdict.at),
    startedAt: iso(verdict.startedAt ?? null),
    hold: verdict.hold,
    held: presentHold(verdict.held),
    checks: verdict.checks.map(presentCheck),
    figures: verdict.figures,
    shadow: presentShadowVerdict(verdict.shadow),
  };
}

/** Audit entries written before shadows existed carry states without the field. */
function presentShadow(shadow: ShadowState | null | undefined): object | null {
  if (shadow === null || shadow === undefined) return null;
  return { version: shadow.version, percent: bpToPercent(shadow.sampleBp), sampleBp: shadow.sampleBp, salt: shadow.salt, since: iso(shadow.since) };
}

function presentStep(step: Step): object {
  const base = { weight: bpToPercent(step.weightBp), bakeMs: step.bakeMs };
  return step.shadowBp === undefined ? base : { ...base, shadow: bpToPercent(step.shadowBp) };
}

export function presentState(state: RolloutState, staleness: Staleness = { stale: false }): Record<string, unknown> {
  return {
    service: state.service,
    stable: state.stable,
    candidate: state.candidate,
    previous: state.previous,
    strategy: state.strategy,
    weight: bpToPercent(state.weightBp),
    weightBp: state.weightBp,
    phase: state.phase,
    step: state.stepIndex,
    steps: state.steps.map(presentStep),
    manual: isActive(state) && isManualCanary(state),
    salt: state.salt,
    revision: state.revision,
    updatedAt: iso(state.updatedAt),
    startedAt: iso(state.startedAt),
    stepStartedAt: iso(state.stepStartedAt),
    reason: state.reason,
    lastVerdict: presentVerdict(state.lastVerdict),
    shadow: presentShadow(state.shadow),
    ...staleness,
  };
}

export function presentOverride(override: Override, now: number): Record<string, unknown> {
  return {
    service: override.service,
    key: override.key,
    version: override.version,
    reason: override.reason,
    author: override.author,
    createdAt: iso(override.createdAt),
    expiresAt: iso(override.expiresAt),
    expiresInMs: Math.max(0, override.expiresAt - now),
  };
}

function presentSubject(subject: AuditSubject, now: number): Record<string, unknown> | null {
  if (subject === null) return null;
  return 'revision' in subject ? presentState(subject) : presentOverride(subject, now);
}

export function presentAuditEntry(entry: AuditEntry, now: number): Record<string, unknown> {
  return {
    id: entry.id,
    service: entry.service,
    actor: entry.actor,
    action: entry.action,
    reason: entry.reason,
    at: iso(entry.at),
    before: presentSubject(entry.before, now),
    after: presentSubject(entry.after, now),
    // Entries written before rules and verdicts were recorded lack both.
    rule: entry.rule ?? null,
    verdict: presentVerdict(entry.verdict),
  };
}
