import { randomUUID } from 'node:crypto';
import { systemClock } from '../../app/clock.js';
import type { Logger } from '../../app/logger.js';
import type { Config } from '../../config/schema.js';
import type { WindowSlice } from '../../core/analysis/window.js';
import { startControlPlane, type ControlPlane } from '../control-plane.js';
import { DEFAULT_RESYNC_MS, watchTls } from '../gateway.js';
import { readyWorkersNeeded } from './ready-workers.js';
import { TlsRegistry } from '../../tls/tls-registry.js';
import { WorkerFleet } from './worker-fleet.js';

export interface ClusterOptions {
  readonly workers: number;
  readonly log: Logger;
}

export interface ClusterGateway {
  readonly proxyUrl: string;
  readonly adminUrl: string;
  readonly control: ControlPlane;
  /** Drains every worker (the single-process drain in each), then flushes and closes the control plane. */
  drain(): Promise<void>;
  /** Re-reads the TLS files (SIGHUP): changed, good ones reach the admin port and every worker; returns how many changed. */
  reloadTls(): number;
}

/**
 * `serve --workers N`: this process (the cluster's primary) runs the control
 * plane, the one store connection, the admin port and the analysis, and forks N
 * proxy workers sharing the proxy port (node:cluster hands connections out
 * round-robin). The routing table's updates are sent to every worker, so a
 * state change reaches workers as it reaches replicas; workers send back what
 * they counted, which feeds the same windows and metrics as one process would.
 * The analysis and the flusher start only once every worker listens: a host
 * that cannot serve gives everything up and never takes the lease.
 */
export async function startCluster(config: Config, o: ClusterOptions): Promise<ClusterGateway> {
  const { log } = o;
  const needed = readyWorkersNeeded(config, o.workers);
  const inbox: WindowSlice[] = [];
  const tls = TlsRegistry.open(config, log);
  const fleet = new WorkerFleet(config, { workers: o.workers, needed, log, inbox, tls });
  const control = await startControlPlane(config, {
    clock: systemClock,
    log,
    newId: randomUUID,
    resyncMs: DEFAULT_RESYNC_MS,
    windows: { drain: () => inbox.splice(0) },
    proxy: () => fleet.readiness(),
    tls,
  });
  let proxyUrl: string;
  try {
    proxyUrl = await fleet.start(control);
  } catch (err) {
    await control.close();
    tls.close();
    throw err;
  }
  control.start();
  watchTls(tls, control.metrics);
  const { adminUrl, routing } = control;
  log.info({ proxy: proxyUrl, admin: adminUrl, workers: o.workers, readyWorkers: needed, store: control.store.kind, services: control.catalog.names }, 'switchyard listening');

  return {
    proxyUrl,
    adminUrl,
    control,
    reloadTls: () => tls.reload('SIGHUP'),
    drain: async () => {
      routing.markDraining();
      log.info({ workers: fleet.size, delayMs: config.proxy.drainDelay, timeoutMs: config.proxy.drainTimeout }, 'draining: readiness fails, workers finish what is in flight');
      await fleet.drain();
      await control.close();
      tls.close();
      log.info({}, 'drained and closed');
    },
  };
}
