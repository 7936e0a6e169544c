import type { AuditEntry, NewAuditEntry } from '../../core/audit.js';
import { compareAuditIds } from '../../core/audit.js';
import { bucketStarts, checkCounters, EMPTY_ARM, mergeArms, type ArmWindow, type WindowSlice } from '../../core/analysis/window.js';
import { isLive, type Override } from '../../core/override.js';
import { parseStoredState, type RolloutState, type Verdict } from '../../core/rollout-state.js';
import type { AuditQuery, CasResult, Store, StoreChange, StoreHealth } from '../../app/store.js';

const UP: StoreHealth = { up: true, reason: null };

/** One bucket of one service's analysis windows. */
interface StoredBucket {
  /** On the store's window clock (see `windowsNowMs`). */
  expiresAtMs: number;
  /** Version -> summed window. */
  readonly arms: Map<string, ArmWindow>;
}

/** The embedded default: one process, no set-up. Documents are copied in and out so callers cannot alias them. */
export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  private readonly states = new Map<string, string>();
  private readonly overrides = new Map<string, Map<string, Override>>();
  private readonly audit: AuditEntry[] = [];
  private readonly listeners = new Set<(change: StoreChange) => void>();
  /** Service -> bucket start -> bucket. */
  private readonly windows = new Map<string, Map<number, StoredBucket>>();
  /**
   * The newest bucket ever written stands in for "now" when windows expire: the
   * store reads no clock, and the flusher writes the current bucket every interval.
   */
  private windowsNowMs = -Infinity;
  private readonly verdicts = new Map<string, Verdict>();
  private lastAuditMs = 0;
  private lastAuditSeq = 0;

  constructor(private readonly auditCap = 10_000) {}

  async getState(service: string): Promise<RolloutState | null> {
    return this.read(service);
  }

  async initState(state: RolloutState, audit: NewAuditEntry): Promise<RolloutState> {
    const existing = this.read(state.service);
    if (existing !== null) return existing;
    this.write(state, audit);
    return state;
  }

  async compareAndSet(expectedRevision: number, next: RolloutState, audit: NewAuditEntry): Promise<CasResult> {
    const current = this.read(next.service);
    if (current === null || current.revision !== expectedRevision) return { ok: false, current };
    const auditId = this.write(next, audit);
    return { ok: true, state: next, auditId };
  }

  async listOverrides(service: string, now: number): Promise<Override[]> {
    const pins = this.overrides.get(service);
    if (pins === undefined) return [];
    for (const [key, pin] of pins) if (!isLive(pin, now)) pins.delete(key);
    return [...pins.values()].map((pin) => ({ ...pin }));
  }

  async putOverride(override: Override, audit: NewAuditEntry): Promise<void> {
    this.pin(override, audit);
  }

  async restoreOverride(override: Override, audit: NewAuditEntry): Promise<Override> {
    const current = this.overrides.get(override.service)?.get(override.key);
    if (current !== undefined && isLive(current, audit.at)) return { ...current };
    this.pin(override, audit);
    return { ...override };
  }

  async deleteOverride(
    service: string,
    key: string,
    audit: (removed: Override) => NewAuditEntry,
    now: number,
  ): Promise<Override | null> {
    const pins = this.overrides.get(service);
    const removed = pins?.get(key);
    if (pins === undefined || removed === undefined) return null;
    pins.delete(key);
    if (!isLive(removed, now)) return null;
    this.appendAudit(audit(removed));
    this.emit({ type: 'overrides', service });
    return removed;
  }

  async readAudit(query: AuditQuery): Promise<AuditEntry[]> {
    const services = new Set(query.services);
    const out: AuditEntry[] = [];
    for (let i = this.audit.length - 1; i >= 0 && out.length < query.limit; i--) {
      const entry = this.audit[i];
      if (entry === undefined || !services.has(entry.service)) continue;
      if (query.before !== undefined && compareAuditIds(entry.id, query.before) >= 0) continue;
      out.push(structuredClone(entry));
    }
    return out;
  }

  async addWindows(slices: readonly WindowSlice[], ttlMs: number): Promise<void> {
    slices.forEach(checkCounters);
    const before = this.windowsNowMs;
    for (const slice of slices) this.windowsNowMs = Math.max(this.windowsNowMs, slice.bucketMs);
    for (const slice of slices) {
      let buckets = this.windows.get(slice.service);
      if (buckets === undefined) {
        buckets = new Map();
        this.windows.set(slice.service, buckets);
      }
      let bucket = buckets.get(slice.bucketMs);
      if (bucket === undefined) {
        bucket = { expiresAtMs: 0, arms: new Map() };
        buckets.set(slice.bucketMs, bucket);
      }
      // Like Redis' PEXPIRE on every write: kept ttlMs after it was last written.
      bucket.expiresAtMs = this.windowsNowMs + ttlMs;
      bucket.arms.set(slice.version, mergeArms(bucket.arms.get(slice.version) ?? EMPTY_ARM, slice.arm));
    }
    if (this.windowsNowMs > before) this.expireWindows();
  }

  async readWindows(service: string, fromMs: number, toMs: number, widthMs: number): Promise<WindowSlice[]> {
    const starts = bucketStarts(fromMs, toMs, widthMs);
    const buckets = this.windows.get(service);
    const out: WindowSlice[] = [];
    for (const bucketMs of starts) {
      const bucket = buckets?.get(bucketMs);
      if (bucket === undefined || bucket.expiresAtMs <= this.windowsNowMs) continue;
      for (const [version, arm] of [...bucket.arms].sort(([a], [b]) => (a < b ? -1 : 1))) {
        out.push({ service, version, bucketMs, arm: mergeArms(EMPTY_ARM, arm) });
      }
    }
    return out;
  }

  /** One process is the only replica there is, so it always holds every lease. */
  async acquireLease(): Promise<boolean> {
    return true;
  }

  async releaseLease(): Promise<void> {}

  async putVerdict(service: string, verdict: Verdict): Promise<void> {
    this.verdicts.set(service, structuredClone(verdict));
  }

  async getVerdict(service: string): Promise<Verdict | null> {
    const verdict = this.verdicts.get(service);
    return verdict === undefined ? null : structuredClone(verdict);
  }

  subscribe(listener: (change: StoreChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onHealth(): () => void {
    return () => undefined;
  }

  health(): StoreHealth {
    return UP;
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }

  /** Synchronous on purpose: no await may fall between a check and its write, or concurrent writers interleave. */
  private read(service: string): RolloutState | null {
    const json = this.states.get(service);
    return json === undefined ? null : parseStoredState(json);
  }

  private pin(override: Override, audit: NewAuditEntry): void {
    let pins = this.overrides.get(override.service);
    if (pins === undefined) {
      pins = new Map();
      this.overrides.set(override.service, pins);
    }
    pins.set(override.key, { ...override });
    this.appendAudit(audit);
    this.emit({ type: 'overrides', service: override.service });
  }

  private write(state: RolloutState, audit: NewAuditEntry): string {
    const json = JSON.stringify(state);
    this.states.set(state.service, json);
    const id = this.appendAudit(audit);
    this.emit({ type: 'state', state: JSON.parse(json) as RolloutState });
    return id;
  }

  /** Ids follow Redis stream rules: `<ms>-<seq>`, strictly increasing even if the clock steps back. */
  private appendAudit(audit: NewAuditEntry): string {
    const ms = Math.max(audit.at, this.lastAuditMs);
    this.lastAuditSeq = ms === this.lastAuditMs ? this.lastAuditSeq + 1 : 0;
    this.lastAuditMs = ms;
    const id = `${ms}-${this.lastAuditSeq}`;
    this.audit.push(structuredClone({ ...audit, id }));
    if (this.audit.length > this.auditCap) this.audit.splice(0, this.audit.length - this.auditCap);
    return id;
  }

  private expireWindows(): void {
    for (const [service, buckets] of this.windows) {
      for (const [bucketMs, bucket] of buckets) if (bucket.expiresAtMs <= this.windowsNowMs) buckets.delete(bucketMs);
      if (buckets.size === 0) this.windows.delete(service);
    }
  }

  private emit(change: StoreChange): void {
    for (const listener of this.listeners) listener(change);
  }
}
