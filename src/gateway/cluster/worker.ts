import { randomUUID } from 'node:crypto';
import { systemClock } from '../../app/clock.js';
import type { ServiceView } from '../../app/routing-table.js';
import { loopSaturation } from '../../app/loop-saturation.js';
import { WindowRecorder } from '../../app/window-recorder.js';
import { RequestTally } from '../../metrics/request-tally.js';
import { ShadowTally } from '../../metrics/shadow-tally.js';
import { TlsMirror } from '../../tls/tls-registry.js';
import { createLogger } from '../logger.js';
import { observersOf } from '../observers.js';
import { startProxyPlane } from '../proxy-plane.js';
import { fromWire, type ToPrimary, type ToWorker } from './messages.js';

/** How often a worker hands its counts to the primary; well under the flush interval, so the analysis is not delayed. */
const BATCH_MS = 250;

/**
 * A proxy worker of `serve --workers N`: the request path only. It routes on
 * the views the primary sends (the primary's routing table follows the store,
 * so a change reaches workers as it reaches replicas), and every BATCH_MS it
 * sends the primary what it counted. It never touches the store. Signals are
 * the primary's business (a terminal's Ctrl-C reaches the whole group): a
 * worker drains when the primary says so. If the primary is killed outright,
 * node:cluster ends its workers at once.
 */
export function runWorker(send: (message: ToPrimary, sent?: () => void) => void, workerId: number): void {
  const views = new Map<string, ServiceView>();
  const tls = new TlsMirror();
  /** Set once the proxy listens; a drain asked for before that runs as soon as it does. */
  let drain: (() => Promise<void>) | null = null;
  let drainAsked = false;
  let started = false;
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => undefined);
  // The primary re-reads the TLS files on SIGHUP and sends them; the signal's default would end a worker.
  process.on('SIGHUP', () => undefined);
  process.on('message', (message: ToWorker) => {
    switch (message.type) {
      case 'view':
        views.set(message.view.service, fromWire(message.view));
        return;
      case 'tls':
        tls.set(message.tls);
        return;
      case 'init':
        if (started) return;
        started = true;
        for (const wire of message.views) views.set(wire.service, fromWire(wire));
        tls.set(message.tls);
        serve(message.config).catch((err: unknown) => {
          // The primary says why once for the host (a busy port fails every worker alike).
          send({ type: 'failed', detail: err instanceof Error ? err.message : String(err) }, () => process.exit(1));
        });
        return;
      case 'drain':
        drainAsked = true;
        if (drain !== null) void drain();
        // Not serving yet: nothing is in flight.
        else if (!started) process.exit(0);
    }
  });
  send({ type: 'hello' });

  async function serve(config: Extract<ToWorker, { type: 'init' }>['config']): Promise<void> {
    const log = createLogger(config, workerId);
    const clock = systemClock;
    const recorder = new WindowRecorder({ bucketMs: config.analysis.bucket, clock, saturated: loopSaturation() });
    let tally = new RequestTally();
    let shadowTally = new ShadowTally();
    const proxy = await startProxyPlane(config, {
      clock,
      log,
      newId: randomUUID,
      views: { view: (service) => views.get(service) },
      // The tallies are swapped for fresh ones with each batch sent.
      ...observersOf(
        {
          observe: (record) => tally.observe(record),
          observeShadow: (record) => shadowTally.observeShadow(record),
          dropped: (service, version, why) => shadowTally.dropped(service, version, why),
        },
        recorder,
      ),
      onFallback: (service, from, to) => send({ type: 'fallback', service, from, to }),
      onEjection: (service, e) => send({ type: 'ejection', service, version: e.version, target: e.target }),
      tls,
    });
    const sendBatch = () => {
      const series = [...tally.all()];
      const shadows = shadowTally.all();
      tally = new RequestTally();
      shadowTally = new ShadowTally();
      const slices = recorder.drain();
      if (series.length > 0 || shadows.length > 0 || slices.length > 0) send({ type: 'batch', slices, series, shadows });
    };
    const timer = setInterval(sendBatch, BATCH_MS);
    let drained: Promise<void> | null = null;
    drain = () =>
      (drained ??= (async () => {
        const { cut } = await proxy.drain();
        clearInterval(timer);
        await proxy.close();
        sendBatch();
        // Exit once the last batch is on the channel (messages are written in order).
        await new Promise<void>((resolve) => send({ type: 'drained', cut }, resolve));
        process.exit(0);
      })());
    send({ type: 'ready', proxyUrl: proxy.proxyUrl });
    if (drainAsked) void drain();
  }
}
