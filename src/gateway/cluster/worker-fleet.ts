import cluster, { type Worker } from 'node:cluster';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../app/logger.js';
import type { Config } from '../../config/schema.js';
import type { WindowSlice } from '../../core/analysis/window.js';
import type { ControlPlane } from '../control-plane.js';
import type { ProxyReadiness } from '../../http/admin/deps.js';
import type { TlsFeed } from '../../tls/tls-registry.js';
import { toWire, type ToPrimary, type ToWorker, type WireView } from './messages.js';

/** A worker that dies is forked again after this, doubling up to the cap while it keeps dying young. */
const RESTART_MS = 500;
const MAX_RESTART_MS = 30_000;
/** A worker that lived this long had a healthy life: its replacement starts at RESTART_MS again. */
const HEALTHY_LIFE_MS = 60_000;

export interface WorkerFleetOptions {
  readonly workers: number;
  /** Workers that must listen for /readyz to pass (see readyWorkersNeeded). */
  readonly needed: number;
  readonly log: Logger;
  /** Where the workers' analysis windows go, for the control plane's flusher. */
  readonly inbox: WindowSlice[];
  /** The TLS material the workers serve with; each change is sent to them. */
  readonly tls: TlsFeed;
}

/**
 * The proxy workers of `serve --workers N`, seen from the primary: forks them
 * (again when one dies), sends them the routing table's every change, and takes
 * in what they counted. It knows which workers listen, which is what /readyz
 * counts as alive.
 */
export class WorkerFleet {
  private readonly live = new Set<Worker>();
  private readonly serving = new Set<Worker>();
  /** Set by a drain, or by a start that failed: no worker is forked again. */
  private stopping = false;
  private started = false;
  private restartMs = RESTART_MS;
  private proxyUrl: string | undefined;
  private allListening: () => void = () => undefined;
  private cannotStart: (err: Error) => void = () => undefined;

  constructor(
    private readonly config: Config,
    private readonly o: WorkerFleetOptions,
  ) {}

  readiness(): ProxyReadiness {
    return { listening: this.serving.size > 0, workers: { alive: this.serving.size, needed: this.o.needed } };
  }

  /**
   * Forks the workers and resolves with the proxy's URL once every one listens.
   * If one cannot start (a busy port fails them all alike) it rejects with that
   * worker's one line, after every worker has exited.
   */
  async start(control: ControlPlane): Promise<string> {
    const here = fileURLToPath(import.meta.url);
    cluster.setupPrimary({ exec: fileURLToPath(new URL(`./worker-main${extname(here)}`, import.meta.url)), serialization: 'advanced' });
    control.routing.onUpdate((service, view) => {
      for (const worker of this.live) this.send(worker, { type: 'view', view: toWire(service, view) });
    });
    this.o.tls.onChange((tls) => {
      for (const worker of this.live) this.send(worker, { type: 'tls', tls });
    });
    const listening = new Promise<void>((resolve, reject) => {
      this.allListening = resolve;
      this.cannotStart = reject;
    });
    for (let i = 0; i < this.o.workers; i++) this.fork(control);
    try {
      await listening;
    } catch (err) {
      this.stopping = true;
      const exited = this.exits();
      for (const worker of this.live) worker.process.kill('SIGKILL');
      await Promise.all(exited);
      throw err;
    }
    this.started = true;
    return this.proxyUrl ?? '';
  }

  /** Drains every worker (the single-process drain in each) and resolves once all have exited. */
  async drain(): Promise<void> {
    this.stopping = true;
    const exited = this.exits();
    for (const worker of this.live) this.send(worker, { type: 'drain' });
    const grace = this.config.proxy.drainDelay + this.config.proxy.drainTimeout + 5_000;
    const timer = setTimeout(() => {
      for (const worker of this.live) worker.process.kill('SIGKILL');
    }, grace);
    await Promise.all(exited);
    clearTimeout(timer);
  }

  get size(): number {
    return this.live.size;
  }

  private fork(control: ControlPlane): void {
    const worker = cluster.fork();
    const bornAt = Date.now();
    this.live.add(worker);
    control.metrics.onWorkers(this.live.size);
    worker.on('message', (message: ToPrimary) => this.onMessage(worker, message, control));
    worker.on('exit', (code, signal) => {
      this.live.delete(worker);
      this.serving.delete(worker);
      control.metrics.onWorkers(this.live.size);
      if (this.stopping) return;
      this.restartMs = Date.now() - bornAt > HEALTHY_LIFE_MS ? RESTART_MS : Math.min(this.restartMs * 2, MAX_RESTART_MS);
      const { restartMs, serving } = this;
      this.o.log.error({ worker: worker.id, code, signal, restartInMs: restartMs, serving: serving.size, needed: this.o.needed }, 'proxy worker died; forking a new one');
      setTimeout(() => {
        if (!this.stopping) this.fork(control);
      }, restartMs).unref();
    });
  }

  private onMessage(worker: Worker, message: ToPrimary, control: ControlPlane): void {
    const { metrics } = control;
    switch (message.type) {
      case 'hello':
        // A worker still starting when the drain began missed that message: it gets it now instead of work.
        this.send(worker, this.stopping ? { type: 'drain' } : { type: 'init', config: this.config, views: this.views(control), tls: this.o.tls.current() });
        return;
      case 'ready':
        this.proxyUrl ??= message.proxyUrl;
        this.serving.add(worker);
        if (this.serving.size === this.o.workers) this.allListening();
        return;
      case 'failed':
        // At start the whole start fails with this line; later the worker is forked again like any that died.
        if (this.started) this.o.log.error({ worker: worker.id, err: message.detail }, 'proxy worker could not start');
        else this.cannotStart(new Error(message.detail));
        return;
      case 'batch':
        this.o.inbox.push(...message.slices);
        metrics.absorb(message.series, message.shadows);
        return;
      case 'fallback':
        metrics.onFallback(message.service, message.from, message.to);
        return;
      case 'ejection':
        metrics.onEjection(message.service, message.version, message.target);
        return;
      case 'drained':
        if (message.cut > 0) {
          metrics.onDrainCut(message.cut);
          this.o.log.warn({ worker: worker.id, cut: message.cut }, 'drain timeout: requests or streams still open were cut');
        }
    }
  }

  private views(control: ControlPlane): WireView[] {
    return control.catalog.names.flatMap((service) => {
      const view = control.routing.view(service);
      return view === undefined ? [] : [toWire(service, view)];
    });
  }

  private send(worker: Worker, message: ToWorker): void {
    if (worker.isConnected()) worker.send(message);
  }

  private exits(): Array<Promise<void>> {
    return [...this.live].map((worker) => new Promise<void>((resolve) => (worker.isDead() ? resolve() : worker.once('exit', () => resolve()))));
  }
}
