import { Agent, request } from 'node:http';
import { Redis } from 'ioredis';
import { bucketOf } from '../../src/core/assignment.js';
import { percentToBp } from '../../src/core/weight.js';
import { changesChannel } from '../../src/store/redis/keys.js';
import { command } from './admin.js';
import { CANDIDATE, KEY_PREFIX, serviceName, servicePath, STICKY_HEADER } from './config.js';
import type { Replica } from './replica.js';

/**
 * How long a weight change takes to reach every proxy of the fleet. The
 * weight of one service's manual canary alternates between two values, each
 * write through one replica's admin API (the writer turns with every write).
 * What is observed is routing itself: every replica is asked, through its proxy
 * port, which version serves one pinned key whose bucket lies between the two
 * weights, so the answer's `x-model-version` flips once that replica's routing
 * table holds the write. A write's time is from sending the command until the
 * last replica was sent a probe that it routed on the write: from then on a
 * request to any proxy gets the new weight. The probe before it, sent one
 * round trip earlier (a few ms), was still routed on the old one; the flipped
 * answer's own trip back is not counted.
 *
 * Every replica, the writer too, learns of a change from the store's change
 * channel (or its 5-s re-read), so none can route on it before Redis publishes
 * it. The bench listens on that channel as well and starts probing when it
 * hears the change: probes before that would only load the machine that is
 * serving the write.
 */
export interface PropagationResult {
  readonly writes: number;
  /** Per write: until every replica routed on it; null when one did not within the timeout. */
  readonly allMs: readonly (number | null)[];
  /** Per write: until the first replica routed on it. */
  readonly firstMs: readonly (number | null)[];
  /** Per write: which replica routed on it last. */
  readonly slowest: readonly string[];
  /** Per write: until the bench heard the change on the channel. */
  readonly publishedMs: readonly number[];
  /** Per write: the admin command's round trip. */
  readonly commandMs: readonly number[];
}

const SERVICE = 0;
const WEIGHTS = [10, 20] as const;
const REACH_TIMEOUT_MS = 10_000;
const PROBE_PAUSE_MS = 2;
/** Writes are spaced irregularly, so they land at every phase of the replicas' timers (resync, flush, analysis). */
const GAP_MS = [100, 400] as const;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function measurePropagation(replicas: readonly Replica[], writes: number, redisUrl: string): Promise<PropagationResult> {
  const service = serviceName(SERVICE);
  const writer = (w: number) => replicas[w % replicas.length] as Replica;
  const heard = await listen(redisUrl, service);
  const probes = replicas.map((r) => prober(r.proxyUrl));
  try {
    const started = await command(writer(0).adminUrl, service, 'rollout', { candidate: CANDIDATE, weight: WEIGHTS[0], reason: 'bench/fleet propagation' });
    const key = flippingKey(started.salt);
    await reachAll(probes, key, 'v1', performance.now());
    const allMs: (number | null)[] = [];
    const firstMs: (number | null)[] = [];
    const slowest: string[] = [];
    const publishedMs: number[] = [];
    const commandMs: number[] = [];
    for (let w = 1; w <= writes; w++) {
      await sleep(GAP_MS[0] + Math.random() * (GAP_MS[1] - GAP_MS[0]));
      const weight = WEIGHTS[w % 2] as number;
      const published = heard.next();
      const from = performance.now();
      const sent = command(writer(w).adminUrl, service, 'weight', { weight, reason: 'bench/fleet propagation' }).then(() => commandMs.push(performance.now() - from));
      publishedMs.push((await published) - from);
      const reached = await reachAll(probes, key, weight === WEIGHTS[1] ? CANDIDATE : 'v1', from);
      await sent;
      const last = reached.some((t) => t === null) ? null : Math.max(...(reached as number[]));
      allMs.push(last);
      firstMs.push(Math.min(...reached.map((t) => t ?? Infinity)));
      slowest.push((replicas[reached.indexOf(last)] as Replica | undefined)?.name ?? '—');
    }
    return { writes, allMs, firstMs, slowest, publishedMs, commandMs };
  } finally {
    for (const p of probes) p.close();
    heard.close();
  }
}

/** A key that the low weight keeps on stable and the high weight sends to the candidate. */
function flippingKey(salt: string): string {
  const [low, high] = WEIGHTS.map(percentToBp) as [number, number];
  for (let i = 0; ; i++) {
    const bucket = bucketOf(salt, `flip-${i}`);
    if (bucket >= low && bucket < high) return `flip-${i}`;
  }
}

/** Per replica, ms from `from` until the first probe it routed to `expected` was sent; null past the timeout. */
function reachAll(list: readonly Prober[], key: string, expected: string, from: number): Promise<(number | null)[]> {
  return Promise.all(
    list.map(async (probe) => {
      while (performance.now() - from < REACH_TIMEOUT_MS) {
        const sentAt = performance.now();
        if ((await probe.version(servicePath(SERVICE), key)) === expected) return sentAt - from;
        await sleep(PROBE_PAUSE_MS);
      }
      return null;
    }),
  );
}

/** The bench's own subscription to the fleet's change channel: `next()` resolves when the next change of `service` is heard, at that moment. */
async function listen(redisUrl: string, service: string): Promise<{ next(): Promise<number>; close(): void }> {
  const subscriber = new Redis(redisUrl);
  await subscriber.subscribe(changesChannel(KEY_PREFIX));
  let waiting: ((at: number) => void) | null = null;
  subscriber.on('message', (_channel: string, message: string) => {
    const change = JSON.parse(message) as { type: string; state?: { service: string } };
    if (change.type === 'state' && change.state?.service === service) waiting?.(performance.now());
  });
  return {
    // NaN when nothing was heard: the write's replicas are then probed anyway, and find it at their next re-read.
    next: () =>
      new Promise((resolve) => {
        waiting = resolve;
        setTimeout(() => resolve(NaN), REACH_TIMEOUT_MS).unref();
      }),
    close: () => subscriber.disconnect(),
  };
}

interface Prober {
  /** The version the replica's proxy chose for `key`, from the answer's `x-model-version`. */
  version(path: string, key: string): Promise<string | undefined>;
  close(): void;
}

function prober(proxyUrl: string): Prober {
  const target = new URL(proxyUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  return {
    version: (path, key) =>
      new Promise((resolve, reject) => {
        const req = request({ host: target.hostname, port: target.port, path, agent, headers: { [STICKY_HEADER]: key } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.headers['x-model-version'] as string | undefined));
        });
        req.on('error', reject);
        req.end();
      }),
    close: () => agent.destroy(),
  };
}
