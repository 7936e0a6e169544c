import type { AuditEntry, NewAuditEntry } from '../core/audit.js';
import type { Override } from '../core/override.js';
import type { WindowSlice } from '../core/analysis/window.js';
import type { RolloutState, Verdict } from '../core/rollout-state.js';

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
  /**
   * Puts back a pin a replica knew after the store lost it: written (audited and
   * announced) only when the key has no live pin at `audit.at`, so with several
   * replicas the first one wins. Returns the pin stored for the key afterwards.
   */
  restoreOverride(override: Override, audit: NewAuditEntry): Promise<Override>;
  /** Returns the removed override, or null when the key had none. */
  deleteOverride(service: string, key: string, audit: (removed: Override) => NewAuditEntry, now: number): Promise<Override | null>;
  readAudit(query: AuditQuery): Promise<AuditEntry[]>;
  /**
   * Adds analysis windows from one replica's flush: counts add to what other
   * replicas wrote for the same service, version and bucket. A bucket is kept
   * `ttlMs` after it was last written.
   */
  addWindows(slices: readonly WindowSlice[], ttlMs: number): Promise<void>;
  /**
   * The windows of a service with `fromMs <= bucketMs < toMs`, buckets `widthMs` wide,
   * oldest first and by version name within a bucket; buckets without traffic are
   * left out. Throws SY_ERR_VALIDATION for a width that is not a positive whole number
   * or a range of more than MAX_BUCKETS_PER_READ buckets.
   */
  readWindows(service: string, fromMs: number, toMs: number, widthMs: number): Promise<WindowSlice[]>;
  /**
   * Takes the named lease for `holder`, or renews it when `holder` has it; false while
   * another holds it. The memory store, one process, answers true to every holder.
   */
  acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, holder: string): Promise<void>;
  /** The latest analysis verdict of a service: overwritten every tick, not audited, no revision. */
  putVerdict(service: string, verdict: Verdict): Promise<void>;
  getVerdict(service: string): Promise<Verdict | null>;
  /** Calls `listener` for every change, including this replica's own. Returns the unsubscribe function. */
  subscribe(listener: (change: StoreChange) => void): () => void;
  /** Calls `listener` whenever reachability changes (fail-static reporting, resync on return). */
  onHealth(listener: (health: StoreHealth) => void): () => void;
  health(): StoreHealth;
  close(): Promise<void>;
}
