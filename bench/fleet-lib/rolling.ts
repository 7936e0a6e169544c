import { Balancer } from './balancer.js';
import { servicePath } from './config.js';
import { PacedLoad, type LoadTally } from './load.js';
import type { Replica } from './replica.js';

/**
 * A rolling restart under steady load, as a Deployment's rolling update does
 * it: requests go through a round-robin front that sends only to replicas
 * whose `/readyz` passed (probed faster than the drain delay); one replica at a
 * time gets SIGTERM (it drains) while its replacement starts on new ports, and
 * the next one waits until the replacement is ready at the front and the old
 * process has exited. Every request is counted at the client.
 */
export interface RollingResult {
  readonly tally: LoadTally;
  readonly seconds: number;
  /** Per replica: SIGTERM to exit, and spawn to ready of its replacement. */
  readonly restarts: ReadonlyArray<{ readonly name: string; readonly drainMs: number; readonly startMs: number }>;
  /** Failures as the front saw them, by cause. */
  readonly frontFailures: ReadonlyMap<string, number>;
  /** The replicas running at the end: the replacements. */
  readonly replicas: Replica[];
}

export interface RollingOptions {
  readonly rps: number;
  readonly services: number;
  readonly probeMs: number;
  /** Steady load before the first and after the last restart. */
  readonly settleMs: number;
  readonly replace: (old: Replica) => Promise<Replica>;
}

const KEYS = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function rollingRestart(replicas: readonly Replica[], o: RollingOptions): Promise<RollingResult> {
  const { balancer, url } = await Balancer.start(o.probeMs);
  const endpoint = (r: Replica) => ({ name: r.name, proxyUrl: r.proxyUrl, readyUrl: `${r.adminUrl}/readyz` });
  const running = [...replicas];
  let n = 0;
  // A steady stream, as the front of a Service sees it: a request every few ms.
  const load = new PacedLoad({ rps: o.rps, tickMs: 5, maxInFlight: 1024 }, () => {
    n++;
    return { origin: url, path: servicePath(n % o.services), key: `user-${n % KEYS}` };
  });
  const restarts: Array<{ name: string; drainMs: number; startMs: number }> = [];
  try {
    for (const r of running) balancer.add(endpoint(r));
    await waitFor(() => running.every((r) => balancer.isReady(r.name)));
    const startedAt = performance.now();
    load.start();
    await sleep(o.settleMs);
    for (let i = 0; i < running.length; i++) {
      const old = running[i] as Replica;
      const [drainMs, fresh] = await Promise.all([old.terminate(), o.replace(old)]);
      balancer.add(endpoint(fresh));
      await waitFor(() => balancer.isReady(fresh.name));
      balancer.remove(old.name);
      running[i] = fresh;
      restarts.push({ name: old.name, drainMs, startMs: fresh.startMs });
    }
    await sleep(o.settleMs);
    const tally = await load.stop();
    return { tally, seconds: (performance.now() - startedAt) / 1000, restarts, frontFailures: balancer.failuresSeen(), replicas: running };
  } finally {
    await load.stop();
    await balancer.close();
  }
}

async function waitFor(ready: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!ready()) {
    if (performance.now() > deadline) throw new Error('bench/fleet: the front did not see the replicas ready in time');
    await sleep(20);
  }
}
