import { isSwitchyardError } from '../core/errors.js';
import type { Override } from '../core/override.js';
import type { RolloutState } from '../core/rollout-state.js';
import type { ServiceCatalog } from './catalog.js';
import type { Clock } from './clock.js';
import type { Logger } from './logger.js';
import type { Store, StoreChange } from './store.js';

export interface ServiceView {
  readonly state: RolloutState;
  readonly overrides: ReadonlyMap<string, Override>;
}

export interface RoutingHealth {
  readonly storeUp: boolean;
  /** Human reasons the replica is not ready; empty when it is. */
  readonly problems: readonly string[];
}

/**
 * The last known rollout state and overrides of every service, held in memory so
 * that the request path never waits for the store (fail-static). Kept current by
 * the store's change feed, with a periodic re-read as the backstop.
 */
export class RoutingTable {
  private readonly views = new Map<string, ServiceView>();
  /** Services whose stored state this replica refuses to read (newer schema), with the reason. */
  private readonly refused = new Map<string, string>();
  private readonly listeners = new Set<(service: string, view: ServiceView) => void>();
  private readonly refusedListeners = new Set<(service: string) => void>();
  private unsubscribe: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private draining = false;

  constructor(
    private readonly store: Store,
    private readonly catalog: ServiceCatalog,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** Loads every service and follows changes; `seeded` are the states written (or found) at start. */
  async start(seeded: readonly RolloutState[], resyncMs: number): Promise<void> {
    for (const state of seeded) this.set(state.service, state, await this.store.listOverrides(state.service, this.clock.now()));
    this.unsubscribe = [
      this.store.subscribe((change) => void this.onChange(change)),
      this.store.onHealth((health) => {
        if (health.up) void this.refresh();
      }),
    ];
    this.timer = setInterval(() => void this.refresh(), resyncMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
  }

  view(service: string): ServiceView | undefined {
    return this.views.get(service);
  }

  /** Called after a service's view changed (for routing caches and gauges). */
  onUpdate(listener: (service: string, view: ServiceView) => void): () => void {
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
    const problems = [...this.refused.values()];
    if (this.draining) problems.unshift('draining: this replica is shutting down');
    if (!store.up) problems.unshift(`store unreachable (${store.reason ?? 'unknown'}); routing on the last known state`);
    return { storeUp: store.up, problems };
  }

  /** Re-reads every service; on failure keeps what it knew (fail-static). */
  async refresh(): Promise<void> {
    await Promise.all(this.catalog.names.map((service) => this.reload(service)));
  }

  private async onChange(change: StoreChange): Promise<void> {
    if (change.type === 'state') {
      const current = this.views.get(change.state.service);
      if (current === undefined || change.state.revision > current.state.revision) {
        this.refused.delete(change.state.service);
        this.set(change.state.service, change.state, current?.overrides);
      }
      return;
    }
    await this.reload(change.service);
  }

  private async reload(service: string): Promise<void> {
    try {
      const [state, overrides] = await Promise.all([this.store.getState(service), this.store.listOverrides(service, this.clock.now())]);
      this.refused.delete(service);
      const current = this.views.get(service);
      if (state !== null) this.set(service, state, overrides);
      else if (current !== undefined) this.set(service, await this.restore(current.state), overrides);
    } catch (err) {
      if (isSwitchyardError(err) && err.code === 'SY_ERR_SCHEMA_TOO_NEW') {
        if (!this.refused.has(service)) this.log.error({ service, err: err.message }, 'refusing rollout state from a newer Switchyard');
        this.refused.set(service, err.message);
        for (const listener of this.refusedListeners) listener(service);
        return;
      }
      this.log.warn({ service, err: (err as Error).message }, 'cannot re-read rollout state; routing on the last known state');
    }
  }

  /**
   * The store came back empty (a Redis restarted without persistence): put back
   * the last state this replica knew rather than the config's initial rollout.
   * Write-if-absent, so with several replicas the first one wins and all agree.
   */
  private async restore(known: RolloutState): Promise<RolloutState> {
    const now = this.clock.now();
    const reason = 'the store had no state for this service; restored the last state this replica knew';
    this.log.warn({ service: known.service, revision: known.revision }, reason);
    return this.store.initState(known, { service: known.service, actor: 'resync', action: 'init', reason, at: now, before: null, after: known });
  }

  private set(service: string, state: RolloutState, overrides: readonly Override[] | ReadonlyMap<string, Override> | undefined): void {
    const pins: ReadonlyMap<string, Override> =
      overrides === undefined ? new Map() : 'get' in overrides ? overrides : new Map(overrides.map((o) => [o.key, o] as const));
    const view: ServiceView = { state, overrides: pins };
    this.views.set(service, view);
    for (const listener of this.listeners) listener(service, view);
  }
}
