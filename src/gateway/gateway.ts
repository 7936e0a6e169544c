import { randomUUID } from 'node:crypto';
import type { AnalysisLoop } from '../app/analysis-loop.js';
import { systemClock, type Clock } from '../app/clock.js';
import type { RolloutCommands } from '../app/commands.js';
import type { Flusher } from '../app/flusher.js';
import type { Logger } from '../app/logger.js';
import type { RoutingTable } from '../app/routing-table.js';
import type { Store } from '../app/store.js';
import { loopSaturation } from '../app/loop-saturation.js';
import { WindowRecorder } from '../app/window-recorder.js';
import type { Config } from '../config/schema.js';
import { startControlPlane, type ControlPlane } from './control-plane.js';
import { createLogger } from './logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { observersOf } from './observers.js';
import { startProxyPlane, type ProxyPlane } from './proxy-plane.js';
import { TlsRegistry } from '../tls/tls-registry.js';

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
  /** Re-reads the TLS files (SIGHUP): changed, good ones are used by the next handshakes; returns how many changed. */
  reloadTls(): number;
  /** Graceful shutdown: unready at once, stop taking connections after the drain delay, finish what is in flight, flush, close. */
  drain(): Promise<void>;
  close(): Promise<void>;
}

export const DEFAULT_RESYNC_MS = 5_000;

/** How often the TLS files' status is polled for a rewrite on disk. */
const TLS_WATCH_MS = 1_000;

/** Starts following the TLS files on disk, and keeps the certificate expiry metric on what is loaded. */
export function watchTls(tls: TlsRegistry, metrics: Metrics): void {
  metrics.onTlsCerts(tls.certs());
  tls.onChange(() => metrics.onTlsCerts(tls.certs()));
  tls.watch(TLS_WATCH_MS);
}

/** The proxy plane of one process: it routes on the control plane's table and counts into its metrics and the recorder. */
function startLocalProxy(
  config: Config,
  control: ControlPlane,
  recorder: WindowRecorder,
  o: { clock: Clock; log: Logger; newId: () => string; proxyPort?: number; tls: TlsRegistry },
): Promise<ProxyPlane> {
  const { metrics } = control;
  return startProxyPlane(config, {
    clock: o.clock,
    log: o.log,
    newId: o.newId,
    views: control.routing,
    ...observersOf(metrics, recorder),
    onFallback: (service, from, to) => metrics.onFallback(service, from, to),
    onEjection: (service, ejection) => metrics.onEjection(service, ejection.version, ejection.target),
    tls: o.tls,
    ...(o.proxyPort === undefined ? {} : { proxyPort: o.proxyPort }),
  });
}

/** One process: the control plane and the request path side by side (`serve --workers N` splits them, see cluster/primary.ts). */
export async function startGateway(config: Config, options: GatewayOptions = {}): Promise<Gateway> {
  const clock = options.clock ?? systemClock;
  const log = options.log ?? createLogger(config);
  const newId = options.newId ?? randomUUID;
  const recorder = new WindowRecorder({ bucketMs: config.analysis.bucket, clock, saturated: loopSaturation() });
  let proxyListening = false;
  const tls = TlsRegistry.open(config, log);
  const control = await startControlPlane(config, {
    clock,
    log,
    newId,
    resyncMs: options.resyncMs ?? DEFAULT_RESYNC_MS,
    windows: recorder,
    proxy: () => ({ listening: proxyListening }),
    tls,
    ...(options.replicaName === undefined ? {} : { replicaName: options.replicaName }),
    ...(options.adminPort === undefined ? {} : { adminPort: options.adminPort }),
  });
  const { metrics, routing, catalog, store } = control;
  let proxy: ProxyPlane;
  try {
    proxy = await startLocalProxy(config, control, recorder, { clock, log, newId, proxyPort: options.proxyPort, tls });
  } catch (err) {
    // Fail fast or serve: a gateway without its proxy port must not hold the admin port, the store or the lease.
    await control.close();
    tls.close();
    throw err;
  }
  proxyListening = true;
  control.start();
  watchTls(tls, metrics);
  log.info({ proxy: proxy.proxyUrl, admin: control.adminUrl, store: store.kind, services: catalog.names }, 'switchyard listening');

  const close = async () => {
    tls.close();
    await proxy.close();
    await control.close();
  };
  return {
    proxyUrl: proxy.proxyUrl,
    adminUrl: control.adminUrl,
    store,
    commands: control.commands,
    routing,
    analysis: control.analysis,
    flusher: control.flusher,
    metrics,
    close,
    reloadTls: () => tls.reload('SIGHUP'),
    drain: async () => {
      routing.markDraining();
      log.info({ delayMs: config.proxy.drainDelay, timeoutMs: config.proxy.drainTimeout }, 'draining: readiness fails, still taking connections for the drain delay');
      const { cut } = await proxy.drain();
      if (cut > 0) {
        metrics.onDrainCut(cut);
        log.warn({ cut }, 'drain timeout: requests or streams still open were cut');
      }
      await close();
      log.info({}, 'drained and closed');
    },
  };
}
