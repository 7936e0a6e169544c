import { hostname } from 'node:os';
import { AnalysisLoop } from '../app/analysis-loop.js';
import { ServiceCatalog } from '../app/catalog.js';
import type { Clock } from '../app/clock.js';
import { RolloutCommands } from '../app/commands.js';
import { Flusher } from '../app/flusher.js';
import type { Logger } from '../app/logger.js';
import { RoutingTable } from '../app/routing-table.js';
import { loadSnapshot, SnapshotKeeper } from '../app/snapshot-keeper.js';
import type { Store } from '../app/store.js';
import type { Config } from '../config/schema.js';
import type { WindowSlice } from '../core/analysis/window.js';
import type { ProxyReadiness } from '../http/admin/deps.js';
import { createAdminServer } from '../http/admin/server.js';
import { listen } from '../http/listen.js';
import { Metrics } from '../metrics/metrics.js';
import { transitionKind } from '../metrics/transition-kind.js';
import { WebhookNotifier } from '../notifier/webhook-notifier.js';
import { MemoryStore } from '../store/memory/memory-store.js';
import { createRedisStore } from '../store/redis/connect.js';
import { snapshotFileFor } from '../store/snapshot/snapshot-file.js';
import type { TlsFeed } from '../tls/tls-registry.js';

export interface ControlPlaneOptions {
  readonly clock: Clock;
  readonly log: Logger;
  readonly newId: () => string;
  readonly resyncMs: number;
  readonly replicaName?: string;
  readonly adminPort?: number;
  /** Where the flusher finds what the proxy counted: the recorder in one process, the workers' batches in a cluster. */
  readonly windows: { drain(): WindowSlice[] };
  /** Whether the request path serves (the proxy in this process, or the cluster's workers), for /readyz. */
  readonly proxy: () => ProxyReadiness;
  /** The admin listener's TLS material, kept current across reloads. */
  readonly tls: TlsFeed;
}

/**
 * Everything but the request path: the store, the operator commands, the
 * routing table, metrics, the analysis loop, the windows flusher and the admin
 * port. One per host: beside the proxy in one process, or in the cluster's
 * primary with the proxy in its workers.
 */
export interface ControlPlane {
  readonly adminUrl: string;
  readonly store: Store;
  readonly catalog: ServiceCatalog;
  readonly commands: RolloutCommands;
  readonly routing: RoutingTable;
  readonly analysis: AnalysisLoop;
  readonly flusher: Flusher;
  readonly metrics: Metrics;
  /** Starts the analysis loop and the flusher; call once every listener of the host is bound, so a host that cannot serve never takes the lease. */
  start(): void;
  close(): Promise<void>;
}

export function createStore(config: Config, log: Logger): Store {
  const redis = config.store.redis;
  return redis === undefined ? new MemoryStore() : createRedisStore(redis, log);
}

export async function startControlPlane(config: Config, o: ControlPlaneOptions): Promise<ControlPlane> {
  const { clock, log } = o;
  const catalog = new ServiceCatalog(config.services);
  const store = createStore(config, log);
  const commands = new RolloutCommands(store, catalog, clock, { defaultTtlMs: config.overrides.defaultTtl, maxTtlMs: config.overrides.maxTtl });
  const routing = new RoutingTable(store, catalog, clock, log);
  const snapshotFile = snapshotFileFor(config);
  const keeper = snapshotFile === null ? null : new SnapshotKeeper({ file: snapshotFile, clock, log });
  const metrics = new Metrics({ clock });
  const notifier = new WebhookNotifier({ targets: config.notifications.webhooks, log });
  const effects = [
    routing.onUpdate((service, view, source) => {
      metrics.onState(service, view);
      metrics.onRoutingSource(service, source);
      keeper?.onUpdate(service, view, source);
    }),
    routing.onRefused((service) => metrics.onSchemaRefused(service)),
    store.onHealth((health) => metrics.onStoreHealth(health.up)),
    commands.onTransition((transition) => {
      const kind = transitionKind(transition);
      if (kind !== null) metrics.onTransition(transition.service, kind, transition.actor);
      notifier.notify(transition);
    }),
  ];
  metrics.onStoreHealth(store.health().up);
  // Never fails for an unreachable store: the table routes on the snapshot (else the config) and joins when it returns.
  await routing.start(commands.initialStates(), o.resyncMs, snapshotFile === null ? null : await loadSnapshot(snapshotFile, log));

  const { analysis: a } = config;
  const flusher = new Flusher({ recorder: o.windows, store, intervalMs: a.flush, ttlMs: a.retention, log });
  const analysis = new AnalysisLoop({
    store,
    commands,
    catalog,
    clock,
    log,
    holder: o.replicaName ?? `${hostname()}:${process.pid}:${o.newId()}`,
    intervalMs: a.interval,
    bucketMs: a.bucket,
    settleMs: a.settle,
    baselineMs: a.baseline,
    maxInconclusive: a.maxInconclusive,
    concurrency: a.concurrency,
    enabledFor: (service) => catalog.get(service).analysis.enabled,
    configFor: (service) => catalog.get(service).analysis.config,
    comparisonFor: (service) => {
      const { prediction, drift } = catalog.get(service).shadow;
      return { kind: prediction?.kind ?? null, drift };
    },
    onVerdict: (service, verdict) => metrics.onVerdict(service, verdict),
    onShadowVerdict: (service, verdict) => metrics.onShadowVerdict(service, verdict),
    onLeader: (leader) => metrics.onLeader(leader),
    onHold: (service, hold, state) => {
      metrics.onHold(service, hold);
      if (hold !== null && state !== null) notifier.notifyHold(service, hold, state);
    },
    onError: (service) => metrics.onAnalysisError(service),
    onRound: (round) => metrics.onRound(round),
  });
  const admin = createAdminServer(
    {
      commands,
      routing,
      catalog,
      clock,
      log,
      tokens: config.admin.tokens,
      metrics,
      audit: (query) => store.readAudit(query),
      verdict: (service) => store.getVerdict(service),
      windows: (service, fromMs, toMs) => store.readWindows(service, fromMs, toMs, a.bucket),
      proxy: o.proxy,
    },
    // HTTPS with admin.tls, swapping its certificate when the files are reloaded.
    o.tls,
  );
  let adminUrl: string;
  try {
    adminUrl = await listen(admin, config.admin.listen.host, o.adminPort ?? config.admin.listen.port, 'admin.listen', o.tls.current().admin !== null);
  } catch (err) {
    // Nothing may keep a process that cannot serve alive: the resync timer, the store's reconnects.
    routing.stop();
    for (const off of effects) off();
    await store.close();
    throw err;
  }

  return {
    adminUrl,
    store,
    catalog,
    commands,
    routing,
    analysis,
    flusher,
    metrics,
    start: () => {
      flusher.start();
      analysis.start();
    },
    close: async () => {
      await analysis.stop();
      routing.stop();
      // The last state this replica knew, for its next start.
      await keeper?.close();
      admin.closeAllConnections();
      await new Promise((resolve) => admin.close(resolve));
      await flusher.flush();
      flusher.stop();
      for (const off of effects) off();
      await store.close();
    },
  };
}
