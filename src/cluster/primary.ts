import cluster, { type Worker } from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../app/clock.js';
import type { Logger } from '../app/logger.js';
import type { Config } from '../config/schema.js';
import type { WindowSlice } from '../core/analysis/window.js';
import { startControlPlane, type ControlPlane } from '../control-plane.js';
import { DEFAULT_RESYNC_MS } from '../main.js';
import { toWire, type ToPrimary, type ToWorker } from './messages.js';

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
}

/** A worker that dies is forked again after this, doubling up to the cap while it keeps dying young. */
const RESTART_MS = 500;
const MAX_RESTART_MS = 30_000;
/** A worker that lived this long had a healthy life: its replacement starts at RESTART_MS again. */
const HEALTHY_LIFE_MS = 60_000;

/**
 * `serve --workers N`: this process (the cluster's primary) runs the control
 * plane, the one store connection, the admin port and the analysis, and forks N
 * proxy workers sharing the proxy port (node:cluster hands connections out
 * round-robin). The routing table's updates are sent to every worker, so a
 * state change reaches workers as it reaches replicas; workers send back what
 * they counted, which feeds the same windows and metrics as one process would.
 */
export async function startCluster(config: Config, o: ClusterOptions): Promise<ClusterGateway> {
  const { log } = o;
  const inbox: WindowSlice[] = [];
  const control = await startControlPlane(config, {
    clock: systemClock,
    log,
    newId: randomUUID,
    resyncMs: DEFAULT_RESYNC_MS,
    windows: { drain: () => inbox.splice(0) },
  });
  const { routing, metrics, catalog } = control;
  const views = () => catalog.names.flatMap((service) => {
    const view = routing.view(service);
    return view === undefined ? [] : [toWire(service, view)];
  });
  const live = new Set<Worker>();
  let draining = false;
  let restartMs = RESTART_MS;
  let proxyUrl: string | undefined;
  let firstReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (firstReady = resolve));
  let readyCount = 0;

  const send = (worker: Worker, message: ToWorker) => {
    if (worker.isConnected()) worker.send(message);
  };
  routing.onUpdate((service, view) => {
    for (const worker of live) send(worker, { type: 'view', view: toWire(service, view) });
  });

  const here = fileURLToPath(import.meta.url);
  cluster.setupPrimary({ exec: fileURLToPath(new URL(`./worker-main${extname(here)}`, import.meta.url)), serialization: 'advanced' });

  const fork = () => {
    const worker = cluster.fork();
    const bornAt = Date.now();
    live.add(worker);
    metrics.onWorkers(live.size);
    worker.on('message', (message: ToPrimary) => {
      switch (message.type) {
        case 'hello':
          // A worker still starting when the drain began missed that message: it gets it now instead of work.
          send(worker, draining ? { type: 'drain' } : { type: 'init', config, views: views() });
          return;
        case 'ready':
          proxyUrl ??= message.proxyUrl;
          if (++readyCount === o.workers) firstReady();
          return;
        case 'batch':
          inbox.push(...message.slices);
          metrics.absorb(message.series, message.shadows);
          return;
        case 'fallback':
          metrics.onFallback(message.service, message.from, message.to);
          return;
        case 'ejection':
          metrics.onEjection(message.service, message.version, message.target);
          return;
        case 'drained':
          if (message.cut > 0) log.warn({ worker: worker.id, cut: message.cut }, 'drain timeout: requests or streams still open were cut');
      }
    });
    worker.on('exit', (code, signal) => {
      live.delete(worker);
      metrics.onWorkers(live.size);
      if (draining) return;
      restartMs = Date.now() - bornAt > HEALTHY_LIFE_MS ? RESTART_MS : Math.min(restartMs * 2, MAX_RESTART_MS);
      log.error({ worker: worker.id, code, signal, restartInMs: restartMs }, 'proxy worker died; forking a new one');
      setTimeout(() => {
        if (!draining) fork();
      }, restartMs).unref();
    });
  };
  for (let i = 0; i < o.workers; i++) fork();
  await ready;
  const adminUrl = control.adminUrl;
  log.info({ proxy: proxyUrl, admin: adminUrl, workers: o.workers, store: control.store.kind, services: catalog.names }, 'switchyard listening');

  return {
    proxyUrl: proxyUrl ?? '',
    adminUrl,
    control,
    drain: async () => {
      draining = true;
      routing.markDraining();
      log.info({ workers: live.size, delayMs: config.proxy.drainDelay, timeoutMs: config.proxy.drainTimeout }, 'draining: readiness fails, workers finish what is in flight');
      const exited = [...live].map((worker) => new Promise<void>((resolve) => (worker.isDead() ? resolve() : worker.once('exit', () => resolve()))));
      for (const worker of live) send(worker, { type: 'drain' });
      const grace = config.proxy.drainDelay + config.proxy.drainTimeout + 5_000;
      const timer = setTimeout(() => {
        for (const worker of live) worker.process.kill('SIGKILL');
      }, grace);
      await Promise.all(exited);
      clearTimeout(timer);
      await control.close();
      log.info({}, 'drained and closed');
    },
  };
}
