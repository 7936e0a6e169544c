import type { NewAuditEntry } from '../core/audit.js';
import { isSwitchyardError } from '../core/errors.js';
import { isLive, type Override } from '../core/override.js';
import type { RolloutState } from '../core/rollout-state.js';
import type { ServiceCatalog } from './catalog.js';
import type { Clock } from './clock.js';
import { seedAudit } from './commands.js';
import type { Logger } from './logger.js';
import { SerialRuns } from './serial-runs.js';
import type { RoutingSnapshot } from './snapshot.js';
import type { Store, StoreChange } from './store.js';

export interface ServiceView {
  readonly state: RolloutState;
  readonly overrides: ReadonlyMap<string, Override>;
}

/**
 * Where a service's view came from: read from the `store`; this replica's local
 * `snapshot` (the store not read since the start); the `config`'s initial
 * rollout (no snapshot either, so possibly stale).
 */
export type RoutingSource = 'store' | 'snapshot' | 'config';
export const ROUTING_SOURCES: readonly RoutingSource[] = ['store', 'snapshot', 'config'];

export interface RoutingHealth {
  readonly storeUp: boolean;
  /** Human reasons the replica is not ready; empty when it is. */
  readonly problems: readonly string[];
  /**
   * What an operator should know while the replica stays ready: it routes on
   * the last state it knew (read from the store, or its snapshot) while the
   * store is unreachable or not read yet. Fail-static would be no use if every
   * replica left its load balancer the moment Redis went away.
   */
  readonly warnings: readonly string[];
}

type UpdateListener = (service: string, view: ServiceView, source: RoutingSource) => void;

/** A service as the store holds it. */
interface Stored {
  readonly state: RolloutState | null;
  readonly overrides: readonly Override[];
}

/** Services named in a readiness line; the rest are counted. */
const NAMED_SERVICES = 5;
const RESTORED = 'the store had no state for this service; restored the last state this replica knew';

/**
 * The last known rollout state and overrides of every service, held in memory so
 * that the request path never waits for the store (fail-static). Kept current by
 * the store's change feed, with a periodic re-read as the backstop. It only moves
 * forward in revision, whoever read the older one.
 */
export class RoutingTable {
  private readonly views = new Map<string, ServiceView>();
  private readonly sources = new Map<string, RoutingSource>();
  /** Services whose stored state this replica refuses to read (newer schema), with the reason. */
  private readonly refused = new Map<string, string>();
  private readonly listeners = new Set<UpdateListener>();
  private readonly refusedListeners = new Set<(service: string) => void>();
  private readonly loads = new SerialRuns();
  private snapshotWrittenAt: number | null = null;
  private unsubscribe: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private draining = false;

  constructor(
    private readonly store: Store,
    private readonly catalog: ServiceCatalog,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /**
   * Routes at once on the best this replica knows, then joins the store and follows
   * it. `initial` is the config's initial rollout of every service, `snapshot` what
   * this replica last applied. An unreachable store is no failure: the table then
   * routes on the snapshot, else on `initial`, and joins when the store returns.
   */
  async start(initial: readonly RolloutState[], resyncMs: number, snapshot: RoutingSnapshot | null = null): Promise<void> {
    const now = this.clock.now();
    const saved = new Map(snapshot?.services.map((entry) => [entry.state.service, entry] as const));
    this.snapshotWrittenAt = snapshot?.writtenAt ?? null;
    for (const state of initial) {
      const entry = saved.get(state.service);
      if (entry === undefined) this.set(state.service, state, [], 'config');
      else this.set(state.service, entry.state, entry.overrides.filter((o) => isLive(o, now)), 'snapshot');
    }
    this.unsubscribe = [
      this.store.subscribe((change) => this.onChange(change)),
      this.store.onHealth((health) => {
        if (health.up) void this.refresh();
      }),
    ];
    this.timer = setInterval(() => void this.refresh(), resyncMs);
    this.timer.unref();
    await this.refresh();
    this.reportStart();
  }

  stop(): void {
    clearInterval(this.timer);
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
  }

  view(service: string): ServiceView | undefined {
    return this.views.get(service);
  }

  /** Called after a service's view was set (for routing caches, gauges and the snapshot), with where it came from. */
  onUpdate(listener: UpdateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called when the store holds a state this replica refuses to read (newer schema). */
  onRefused(listener: (service: string) => void): () => void {
    this.refusedListeners.add(listener);
    return () => this.refusedListeners.delete(listener);
  }

  /** The replica is shutting down: readiness fails from now on, so load balancers stop sending. */
  markDraining(): void {
    this.draining = true;
  }

  health(): RoutingHealth {
    const store = this.store.health();
    const { stale, snapshot } = this.staleness();
    const problems = [...stale, ...this.refused.values()];
    if (this.draining) problems.unshift('draining: this replica is shutting down');
    const warnings = [...snapshot];
    if (!store.up) warnings.unshift(`store unreachable (${store.reason ?? 'unknown'}); routing on the last known state`);
    return { storeUp: store.up, problems, warnings };
  }

  /** Re-reads every service; on failure keeps what it knew (fail-static). */
  async refresh(): Promise<void> {
    await Promise.all(this.catalog.names.map((service) => this.reload(service)));
  }

  private onChange(change: StoreChange): void {
    const service = change.type === 'state' ? change.state.service : change.service;
    const current = this.views.get(service);
    // The first word from the store about a service routed on the snapshot or the config: read it whole.
    if (change.type === 'overrides' || (current !== undefined && this.sources.get(service) !== 'store')) {
      void this.reload(service);
      return;
    }
    // Equal revisions are taken: after the store lost a write, its next one reuses the revision.
    if (current === undefined || change.state.revision >= current.state.revision) {
      this.refused.delete(service);
      this.set(service, change.state, current?.overrides, 'store');
    }
  }

  /** One read of a service at a time, so a later read is never overtaken by an earlier one. */
  private reload(service: string): Promise<void> {
    return this.loads.run(service, () => this.load(service));
  }

  private async load(service: string): Promise<void> {
    try {
      const stored = await this.reconcile(service, await this.read(service));
      this.refused.delete(service);
      if (stored.state !== null) this.accept(service, stored.state, stored.overrides);
    } catch (err) {
      if (isSwitchyardError(err) && err.code === 'SY_ERR_SCHEMA_TOO_NEW') {
        if (!this.refused.has(service)) this.log.error({ service, err: err.message }, 'refusing rollout state from a newer Switchyard');
        this.refused.set(service, err.message);
        for (const listener of this.refusedListeners) listener(service);
        return;
      }
      // The store logs its own reachability when it changes; a line per service and re-read would bury that.
      if (isSwitchyardError(err) && err.code === 'SY_ERR_STORE_UNAVAILABLE') return;
      this.log.warn({ service, err: (err as Error).message }, 'cannot re-read rollout state; routing on the last known state');
    }
  }

  private async read(service: string): Promise<Stored> {
    const [state, overrides] = await Promise.all([this.store.getState(service), this.store.listOverrides(service, this.clock.now())]);
    return { state, overrides };
  }

  /**
   * Writes back what the store lost of what this replica knows, and answers what the
   * store holds afterwards. The store lost something when it has no state for the
   * service (a Redis restarted without persistence: the known state goes back
   * write-if-absent, so the first replica wins) or an older state than the known one
   * (a failover that lost the last writes, or a replica that restored less: the known
   * state goes back with compare-and-set). Either way the known pins go back too, each
   * only where its key has none. The config's initial rollout is only ever written
   * where the store has no state.
   */
  private async reconcile(service: string, stored: Stored): Promise<Stored> {
    const known = this.views.get(service);
    const source = this.sources.get(service);
    if (known === undefined) return stored;
    const pins = [...known.overrides.values()];
    let { state, overrides } = stored;
    if (state === null) {
      // Pins first: the state is what tells other replicas the store lost nothing, so whoever reads it reads the pins too.
      overrides = await this.restoreOverrides(service, pins);
      state = await this.restoreState(known.state, source);
    }
    if (source !== 'config' && state.revision < known.state.revision) {
      const back = await this.writeBack(state, known.state);
      state = back.state;
      // Only after a write that took: a read that was merely late must not bring back pins deleted since.
      if (back.wrote) overrides = await this.restoreOverrides(service, pins);
    }
    return { state, overrides };
  }

  private async restoreState(known: RolloutState, source: RoutingSource | undefined): Promise<RolloutState> {
    const at = this.clock.now();
    if (source === 'config') return this.store.initState(known, seedAudit(known, at));
    this.log.warn({ service: known.service, revision: known.revision, from: source }, RESTORED);
    return this.store.initState(known, restoreAudit('init', RESTORED, at, null, known));
  }

  /** Puts back the live pins this replica knew, each only where its key has none, and answers the store's pins afterwards. */
  private async restoreOverrides(service: string, known: readonly Override[]): Promise<Override[]> {
    const at = this.clock.now();
    const live = known.filter((o) => isLive(o, at));
    if (live.length > 0) {
      const reason = 'the store had lost it; restored an override this replica knew';
      this.log.warn({ service, overrides: live.length }, 'restoring the overrides this replica knew; a key pinned since keeps its pin');
      await Promise.all(live.map((o) => this.store.restoreOverride(o, restoreAudit('override-put', reason, at, null, o))));
    }
    return this.store.listOverrides(service, at);
  }

  /** Compare-and-set of the known state over an older stored one; `wrote` is false when another writer got there first. */
  private async writeBack(stored: RolloutState, known: RolloutState): Promise<{ state: RolloutState; wrote: boolean }> {
    const reason = `the store held revision ${stored.revision}, older than revision ${known.revision} this replica knew; wrote that back`;
    const result = await this.store.compareAndSet(stored.revision, known, restoreAudit('init', reason, this.clock.now(), stored, known));
    // Refused: the read was only late, or another writer got there first; the store's answer is judged like any read.
    if (!result.ok) return { state: result.current ?? stored, wrote: false };
    this.log.warn({ service: known.service, stored: stored.revision, known: known.revision }, reason);
    return { state: result.state, wrote: true };
  }

  /** The table only moves forward: a state older than the one it routes on never replaces it. */
  private accept(service: string, state: RolloutState, overrides: readonly Override[]): void {
    const current = this.views.get(service);
    if (current !== undefined && state.revision < current.state.revision) return;
    // The periodic re-read mostly finds nothing new: telling every listener (and every worker) again costs
    // each replica CPU in proportion to its number of services.
    if (current !== undefined && this.sources.get(service) === 'store' && state.revision === current.state.revision && samePins(current.overrides, overrides)) return;
    this.set(service, state, overrides, 'store');
  }

  private set(service: string, state: RolloutState, overrides: readonly Override[] | ReadonlyMap<string, Override> | undefined, source: RoutingSource): void {
    const pins: ReadonlyMap<string, Override> =
      overrides === undefined ? new Map() : 'get' in overrides ? overrides : new Map(overrides.map((o) => [o.key, o] as const));
    const view: ServiceView = { state, overrides: pins };
    this.views.set(service, view);
    this.sources.set(service, source);
    for (const listener of this.listeners) listener(service, view, source);
  }

  private servicesFrom(source: RoutingSource): string[] {
    return [...this.sources].filter(([, from]) => from === source).map(([service]) => service);
  }

  /**
   * Services not yet read from the store: those on the snapshot route on the
   * last state this replica applied; those on the config's initial rollout
   * may route on a state the fleet left long ago (stale).
   */
  private staleness(): { stale: string[]; snapshot: string[] } {
    const saved = this.servicesFrom('snapshot');
    const initial = this.servicesFrom('config');
    const since = 'the store has not been read since this replica started';
    return {
      snapshot: saved.length === 0 ? [] : [`routing ${named(saved)} on the local snapshot written ${iso(this.snapshotWrittenAt)}; ${since}`],
      stale: initial.length === 0 ? [] : [`routing ${named(initial)} on the config's initial rollout, possibly stale (no snapshot); ${since}`],
    };
  }

  /** One line when the start could not read the store for every service. */
  private reportStart(): void {
    const saved = this.servicesFrom('snapshot');
    const initial = this.servicesFrom('config');
    if (saved.length === 0 && initial.length === 0) return;
    const on = [
      ...(saved.length > 0 ? [`${named(saved)} on the local snapshot written ${iso(this.snapshotWrittenAt)}`] : []),
      ...(initial.length > 0 ? [`${named(initial)} on the config's initial rollout (stale: no snapshot)`] : []),
    ];
    const store = this.store.health();
    const why = store.up ? 'the store did not answer for them' : `store unreachable: ${store.reason ?? 'unknown'}`;
    this.log.warn({ snapshot: saved, config: initial }, `started without the store's state (${why}); routing ${on.join(' and ')} until it is read`);
  }
}

/** What this replica wrote back after the store lost it, audited under the actor `resync`. */
function restoreAudit(action: 'init' | 'override-put', reason: string, at: number, before: RolloutState | null, after: RolloutState | Override): NewAuditEntry {
  return { service: after.service, actor: 'resync', action, reason, at, before, after };
}

function named(services: readonly string[]): string {
  const shown = services.slice(0, NAMED_SERVICES).join(', ');
  const more = services.length - NAMED_SERVICES;
  return `${services.length === 1 ? 'service' : 'services'} ${shown}${more > 0 ? ` and ${more} more` : ''}`;
}

function iso(at: number | null): string {
  return at === null ? 'at an unknown time' : new Date(at).toISOString();
}

function samePins(held: ReadonlyMap<string, Override>, read: readonly Override[]): boolean {
  if (held.size !== read.length) return false;
  return read.every((o) => {
    const pin = held.get(o.key);
    return pin !== undefined && pin.version === o.version && pin.expiresAt === o.expiresAt && pin.reason === o.reason && pin.author === o.author;
  });
}
