import type { Transition } from '../app/commands.js';
import type { Hold, RolloutState, Verdict } from '../core/rollout-state.js';

/** What a webhook post announces. */
export type WebhookEvent = 'rollback' | 'promotion' | 'step' | 'pause' | 'resume' | 'hold';

/** The body of every post: one shape for every event, so a receiver reads the same fields whatever happened. */
export interface WebhookPayload {
  readonly event: WebhookEvent;
  readonly service: string;
  /** A token name, `analysis`, `alertmanager`; `analysis` for a hold. */
  readonly actor: string;
  readonly reason: string | null;
  /** When it happened (ISO 8601): the write of a transition, the first round that held. */
  readonly at: string;
  readonly stable: string;
  readonly candidate: string | null;
  /** The candidate's share in percent. */
  readonly weight: number;
  readonly step: number;
  readonly phase: RolloutState['phase'];
  readonly revision: number;
  /** The control rule the transition applied (src/core/control-rules.ts), if any. */
  readonly rule: string | null;
  /** The analysis verdict behind the transition, if the analysis made it. */
  readonly verdict: Verdict | null;
  /** Only on `hold`: what holds the rollout and since when. */
  readonly hold?: { readonly kind: Hold['kind']; readonly reason: string; readonly since: string };
}

/**
 * Which transitions are announced, and as what. Rollbacks and promotions come
 * first whatever the phase before; then a change of phase into or out of
 * `paused` (an operator's pause or weight 0, the analysis pausing for a human;
 * resume or a new weight above 0), so a pause is announced however it came.
 */
export function releaseEvent(transition: Transition): WebhookEvent | null {
  const { action, before, after } = transition;
  if (action === 'rollback') return 'rollback';
  if (action === 'promote') return 'promotion';
  if (action === 'advance') return after.phase === 'promoted' ? 'promotion' : 'step';
  if (after.phase === 'paused' && before.phase !== 'paused') return 'pause';
  if (before.phase === 'paused' && after.phase === 'progressing') return 'resume';
  return null;
}

/** The post for an announced transition, read from the state the store accepted. */
export function transitionPayload(event: WebhookEvent, transition: Transition): WebhookPayload {
  const { after } = transition;
  return {
    event,
    service: transition.service,
    actor: transition.actor,
    reason: transition.reason,
    at: new Date(after.updatedAt).toISOString(),
    // A rollback keeps the candidate on the state; a promotion clears it, so the one before names what was promoted.
    ...rolloutFields(after, after.candidate ?? transition.before.candidate),
    rule: transition.rule,
    verdict: transition.verdict,
  };
}

/** The post for a hold the analysis just began on `state`'s rollout. */
export function holdPayload(service: string, hold: Hold, state: RolloutState): WebhookPayload {
  const since = new Date(hold.since).toISOString();
  return {
    event: 'hold',
    service,
    actor: 'analysis',
    reason: hold.reason,
    at: since,
    ...rolloutFields(state, state.candidate),
    rule: null,
    verdict: null,
    hold: { kind: hold.kind, reason: hold.reason, since },
  };
}

function rolloutFields(state: RolloutState, candidate: string | null): Pick<WebhookPayload, 'stable' | 'candidate' | 'weight' | 'step' | 'phase' | 'revision'> {
  return { stable: state.stable, candidate, weight: state.weightBp / 100, step: state.stepIndex, phase: state.phase, revision: state.revision };
}
