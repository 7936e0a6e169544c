import type { Override } from './override.js';
import type { RolloutState, Verdict } from './rollout-state.js';
import type { CommandType } from './transition.js';

export type AuditAction = 'init' | CommandType | 'override-put' | 'override-delete';

export type AuditSubject = RolloutState | Override | null;

/** One accepted change. `id` is `<ms>-<seq>`, ordered like a Redis stream id. */
export interface AuditEntry {
  readonly id: string;
  readonly service: string;
  readonly actor: string;
  readonly action: AuditAction;
  readonly reason: string | null;
  readonly at: number;
  readonly before: AuditSubject;
  readonly after: AuditSubject;
  /** The control rule between operators and the analysis that this change applied (src/core/control-rules.ts); absent in older entries. */
  readonly rule?: string | null;
  /** The analysis verdict behind a change the analysis made; absent otherwise. */
  readonly verdict?: Verdict | null;
}

export type NewAuditEntry = Omit<AuditEntry, 'id'>;

/** Compares `<ms>-<seq>` ids numerically; negative when a is older than b. */
export function compareAuditIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}
