import type { AuditEntry, NewAuditEntry } from '../core/audit.js';
import type { Override } from '../core/override.js';
import type { RolloutState } from '../core/rollout-state.js';

export type CasResult =
  | { readonly ok: true; readonly state: RolloutState; readonly auditId: string }
  | { readonly ok: false; readonly current: RolloutState | null };

/** What replicas hear when another (or the same) replica changed something. */
export type StoreChange =
  | { readonly type: 'state'; readonly state: RolloutState }
  | { readonly type: 'overrides'; readonly service: string };

export interface AuditQuery {
  /** Services to read; the caller knows them from the config (no key scans). */
  readonly services: readonly string[];
  readonly limit: number;
  /** Only entries strictly older than this id. */
  readonly before?: string;
}

export interface StoreHealth {
  readonly up: boolean;
  /** Why the store is down, for /readyz and logs; null when up. */
  readonly reason: string | null;
}

/**
 * The one store interface: memory (embedded default) and Redis implement it.
 * Every method may throw SwitchyardError SY_ERR_STORE_UNAVAILABLE when the store
 * cannot be reached; nothing is acknowledged that the store did not accept.
 */
export interface Store {
  readonly kind: 'memory' | 'redis';
  getState(service: string): Promise<RolloutState | null>;
  /** Writes `state` only when the service has no state yet; returns the state that is stored afterwards. */
  initState(state: RolloutState, audit: NewAuditEntry): Promise<RolloutState>;
  /**
   * Writes `next` only when the stored revision equals `expectedRevision`, appends
   * `audit` and announces the change, all or nothing.
   */
  compareAndSet(expectedRevision: number, next: RolloutState, audit: NewAuditEntry): Promise<CasResult>;
  /** Live overrides of a service (expired ones are left out). */
  listOverrides(service: string, now: number): Promise<Override[]>;
  putOverride(override: Override, audit: NewAuditEntry): Promise<void>;
  /** Returns the removed override, or null when the key had none. */
  deleteOverride(service: string, key: string, audit: (removed: Override) => NewAuditEntry, now: number): Promise<Override | null>;
  readAudit(query: AuditQuery): Promise<AuditEntry[]>;
  /** Calls `listener` for every change, including this replica's own. Returns the unsubscribe function. */
  subscribe(listener: (change: StoreChange) => void): () => void;
  /** Calls `listener` whenever reachability changes (fail-static reporting, resync on return). */
  onHealth(listener: (health: StoreHealth) => void): () => void;
  health(): StoreHealth;
  close(): Promise<void>;
}
