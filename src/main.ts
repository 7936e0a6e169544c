import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { hostname } from 'node:os';
import { AnalysisLoop } from './app/analysis-loop.js';
import { ServiceCatalog } from './app/catalog.js';
import { systemClock, type Clock } from './app/clock.js';
import { RolloutCommands } from './app/commands.js';
import { Flusher } from './app/flusher.js';
import type { Logger } from './app/logger.js';
import type { RequestObserver } from './app/request-observer.js';
import { RoutingTable } from './app/routing-table.js';
import type { Store } from './app/store.js';
import { WindowRecorder } from './app/window-recorder.js';
import type { Config } from './config/schema.js';
import { createAdminServer } from './http/admin/server.js';
import { Resolver } from './http/proxy/resolve.js';
import { createProxyServer } from './http/proxy/server.js';
import type { Ejection } from './http/proxy/upstream-pool.js';
import { Metrics } from './metrics/metrics.js';
import { transitionKind } from './metrics/transition-kind.js';
import { WebhookNotifier } from './notifier/webhook-notifier.js';
import { MemoryStore } from './store/memory/memory-store.js';
import { createRedisStore } from './store/redis/connect.js';

export interface GatewayOptions {
  readonly clock?: Clock;
  readonly log?: Logger;
  /** Sticky keys and request ids; tests pass a seeded one. */
  readonly newId?: () => string;
  /** Re-read of every service's state, the backstop for lost change messages. */
  readonly resyncMs?: number;
  /** This replica's name in the analysis lease. */
  readonly replicaName?: string;
  /** Ports to listen on instead of the config's (tests pass 0). */
  readonly proxyPort?: number;
  readonly adminPort?: number;
}

export interface Gateway {
  readonly proxyUrl: string;
  readonly adminUrl: string;
  readonly store: Store;
  readonly commands: RolloutCommands;
  readonly routing: RoutingTable;
  readonly analysis: AnalysisLoop;
  readonly flusher: Flusher;
  readonly metrics: Metrics;
  /** Graceful shutdown: unready at once, stop taking connections after the drain delay, finish what is in flight, flush, close. */
  drain(): Promise<void>;
  close(): Promise<void>;
}

const DEFAULT_RESYNC_MS = 5_000;

export function createLogger(config: Config): Logger {
  return pino({ level: config.log.level, base: { app: 'switchyard' } });
}

export function createStore(config: Config, log: Logger): Store {
  const redis = config.store.redis;
  return redis === undefined ? new MemoryStore() : createRedisStore(redis, log);
}

/** The one place that wires adapters to the app, then listens. */
export async function startGateway(config: Config, options: GatewayOptions = {}): Promise<Gateway> {
  const clock = options.clock ?? systemClock;
  const log = options.log ?? createLogger(config);
  const newId = options.newId ?? randomUUID;
  const catalog = new ServiceCatalog(config.services);
  const store = createStore(config, log);
  const commands = new RolloutCommands(store, catalog, clock, { defaultTtlMs: config.overrides.defaultTtl, maxTtlMs: config.overrides.maxTtl });
  const routing = new RoutingTable(store, catalog, clock, log);
  const metrics = new Metrics({ clock });
  const notifier = new WebhookNotifier({ targets: config.notifications.webhooks, log });
  const effects = [
    routing.onUpdate((service, view) => metrics.onState(service, view)),
    routing.onRefused((service) => metrics.onSchemaRefused(service)),
    store.onHealth((health) => metrics.onStoreHealth(health.up)),
    commands.onTransition((transition) => {
      const kind = transitionKind(transition);
      if (kind !== null) metrics.onTransition(transition.service, kind, transition.actor);
      notifier.notify(transition);
    }),
  ];
  metrics.onStoreHealth(store.health().up);
  await routing.start(await commands.seed(), options.resyncMs ?? DEFAULT_RESYNC_MS);

  const { analysis: a } = config;
  const recorder = new WindowRecorder({ bucketMs: a.bucket, clock });
  const flusher = new Flusher({ recorder, store, intervalMs: a.flush, ttlMs: a.retention, log });
  const analysis = new AnalysisLoop({
    store,
    commands,
    catalog,
    clock,
    log,
    holder: options.replicaName ?? `${hostname()}:${process.pid}:${newId()}`,
    intervalMs: a.interval,
    bucketMs: a.bucket,
    settleMs: a.settle,
    baselineMs: a.baseline,
    maxInconclusive: a.maxInconclusive,
    enabledFor: (service) => catalog.get(service).analysis.enabled,
    configFor: (service) => catalog.get(service).analysis.config,
    onVerdict: (service, verdict) => metrics.onVerdict(service, verdict),
    onLeader: (leader) => metrics.onLeader(leader),
  });
  const observer: RequestObserver = {
    observe(record) {
      metrics.observe(record);
      recorder.observe(record);
    },
  };

  const onEjection = (service: string, ejection: Ejection) => {
    metrics.onEjection(service, ejection.version, ejection.target);
    log.warn({ service, ...ejection }, 'target ejected after failing in a row');
  };
  const resolver = new Resolver(config.services, routing, clock, newId, onEjection);
  const proxy = createProxyServer(resolver, {
    log,
    observer,
    now: () => clock.now(),
    accessLog: config.proxy.accessLog,
    onFallback: (service, from, to) => metrics.onFallback(service, from, to),
  });
  const admin = createAdminServer({
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
  });
  const proxyUrl = await listen(proxy.server, config.proxy.listen.host, options.proxyPort ?? config.proxy.listen.port);
  const adminUrl = await listen(admin, config.admin.listen.host, options.adminPort ?? config.admin.listen.port);
  flusher.start();
  analysis.start();
  log.info({ proxy: proxyUrl, admin: adminUrl, store: store.kind, services: catalog.names }, 'switchyard listening');

  const close = async () => {
    await analysis.stop();
    routing.stop();
    admin.closeAllConnections();
    await Promise.all([proxy.close(), new Promise((resolve) => admin.close(resolve))]);
    await flusher.flush();
    flusher.stop();
    for (const off of effects) off();
    await store.close();
  };

  return {
    proxyUrl,
    adminUrl,
    store,
    commands,
    routing,
    analysis,
    flusher,
    metrics,
    close,
    drain: async () => {
      routing.markDraining();
      log.info({ delayMs: config.proxy.drainDelay, timeoutMs: config.proxy.drainTimeout }, 'draining: readiness fails, still taking connections for the drain delay');
      const { cut } = await proxy.drain(config.proxy.drainDelay, config.proxy.drainTimeout);
      if (cut > 0) log.warn({ cut }, 'drain timeout: requests or streams still open were cut');
      await close();
      log.info({}, 'drained and closed');
    },
  };
}

async function listen(server: Server, host: string, port: number): Promise<string> {
  server.listen(port, host);
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${shown === '0.0.0.0' ? '127.0.0.1' : shown}:${address.port}`;
}
