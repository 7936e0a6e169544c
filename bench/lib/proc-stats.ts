import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import type { TraceLog } from './trace.js';

/** What a child process reports after a measurement: memory, GC pauses, event-loop delay and busy share. */
export interface ProcStats {
  readonly rssBytes: number;
  readonly maxRssBytes: number;
  readonly gcCount: number;
  readonly gcTotalMs: number;
  readonly gcMaxMs: number;
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
  /** Event-loop utilisation since the last reset, 0..1. */
  readonly elu: number;
  /** CPU time (user + system) since the last reset. */
  readonly cpuMs: number;
}

/** Counters reset at the start of each measurement (after warm-up) and read at its end. */
export function trackProcess(): { reset(): void; read(): ProcStats } {
  let gcCount = 0;
  let gcTotalMs = 0;
  let gcMaxMs = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gcCount++;
      gcTotalMs += entry.duration;
      if (entry.duration > gcMaxMs) gcMaxMs = entry.duration;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  // Enabled only while a measurement runs, so idle proxies waiting their turn cost nothing.
  const delay = monitorEventLoopDelay({ resolution: 5 });
  let eluFrom = performance.eventLoopUtilization();
  let cpuFrom = process.cpuUsage();
  return {
    reset() {
      gcCount = 0;
      gcTotalMs = 0;
      gcMaxMs = 0;
      delay.reset();
      delay.enable();
      eluFrom = performance.eventLoopUtilization();
      cpuFrom = process.cpuUsage();
    },
    read() {
      const elu = performance.eventLoopUtilization(eluFrom).utilization;
      delay.disable();
      return {
        rssBytes: process.memoryUsage.rss(),
        maxRssBytes: process.resourceUsage().maxRSS * 1024,
        gcCount,
        gcTotalMs,
        gcMaxMs,
        loopDelayP99Ms: delay.percentile(99) / 1e6,
        loopDelayMaxMs: delay.max / 1e6,
        elu,
        cpuMs: (() => {
          const used = process.cpuUsage(cpuFrom);
          return (used.user + used.system) / 1000;
        })(),
      };
    },
  };
}

/** Child side of the IPC: answers `reset`, `stats` and (with a trace log) `trace` messages. */
export function answerStats(extra: () => Record<string, number> = () => ({}), trace: TraceLog | null = null): void {
  const tracker = trackProcess();
  process.on('message', (msg: { type: string; id: number }) => {
    if (msg.type === 'reset') {
      tracker.reset();
      trace?.start();
      process.send?.({ type: 'reset-done', id: msg.id });
    } else if (msg.type === 'stats') {
      process.send?.({ type: 'stats', id: msg.id, stats: { ...tracker.read(), ...extra() } });
    } else if (msg.type === 'trace') {
      process.send?.({ type: 'trace', id: msg.id, trace: trace?.take() ?? { ids: [], times: [] } });
    }
  });
  process.on('disconnect', () => process.exit(0));
}
