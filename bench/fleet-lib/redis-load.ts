import { treeCpuMs } from '../lib/proc-tree.js';
import { servicePath } from './config.js';
import { PacedLoad, type LoadTally } from './load.js';
import { delta, type RedisDelta, type RedisStats } from './redis-stats.js';
import type { Replica } from './replica.js';

/**
 * What a fleet asks of Redis, at the gateway's default timings. For one fleet
 * (R replicas × S services) two windows are measured: idle, where Redis sees
 * only each replica's resync (every service re-read every 5 s) and the lease
 * holder's analysis rounds; and with traffic, where every replica also flushes
 * its windows every second. The traffic reaches every (replica, service) pair
 * at `rate` requests per second, spread evenly: from one request per flush
 * interval on, each replica flushes every service every second (services busy
 * enough to be seen by every replica within a flush); at 0.5, each pair every
 * other flush. Redis' figures are INFO commandstats (commands run by scripts
 * included) and INFO cpu (its main thread) over the window.
 */
export interface Cell {
  readonly replicas: number;
  readonly services: number;
  readonly idle: RedisDelta;
  /** Replica CPU while idle, ms per second, averaged over the replicas. */
  readonly replicaIdleCpuMsPerS: number;
  readonly busy: ReadonlyArray<{ readonly rate: number; readonly redis: RedisDelta; readonly load: LoadTally }>;
}

export interface CellOptions {
  readonly services: number;
  readonly rates: readonly number[];
  /** Seconds per window: a multiple of the resync and analysis interval (5 s) counts each a whole number of times. */
  readonly windowS: number;
  readonly warmupS: number;
  /** Traffic cells above this many requests per second are skipped: the machine cannot send and serve them. */
  readonly maxRps: number;
}

const KEYS = 1000;
const BURST_MS = 250;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function measureCell(replicas: readonly Replica[], redis: RedisStats, o: CellOptions, line: (text: string) => void): Promise<Cell> {
  const cpuFrom = replicas.map((r) => treeCpuMs(r.proc.pid as number));
  const idleFrom = await redis.sample();
  await sleep(o.windowS * 1000);
  const idle = delta(idleFrom, await redis.sample());
  const cpuMs = replicas.reduce((sum, r, i) => sum + treeCpuMs(r.proc.pid as number) - (cpuFrom[i] ?? 0), 0);
  const replicaIdleCpuMsPerS = cpuMs / replicas.length / idle.seconds;
  line(`    idle: ${fmtPerS(idle.totalPerS)} commands/s, Redis main thread ${pct(idle.mainCpu)}, replica CPU ${replicaIdleCpuMsPerS.toFixed(1)} ms/s each`);
  const busy: Cell['busy'][number][] = [];
  for (const rate of o.rates) {
    const rps = replicas.length * o.services * rate;
    if (rps > o.maxRps) {
      line(`    ${rate} req/s per pair: skipped (${rps} req/s > --max-rps ${o.maxRps})`);
      continue;
    }
    busy.push(await withTraffic(replicas, redis, o, rate));
    const last = busy.at(-1) as Cell['busy'][number];
    line(
      `    ${rate} req/s per pair (${rps} req/s): ${fmtPerS(last.redis.totalPerS)} commands/s, Redis main thread ${pct(last.redis.mainCpu)}` +
        `, ${last.load.ok} answered, ${last.load.failed} failed, ${last.load.skipped} not sent`,
    );
  }
  return { replicas: replicas.length, services: o.services, idle, replicaIdleCpuMsPerS, busy };
}

/** Request k goes to replica k mod R and service ⌊k / R⌋ mod S: every pair once per R × S requests. */
async function withTraffic(replicas: readonly Replica[], redis: RedisStats, o: CellOptions, rate: number): Promise<Cell['busy'][number]> {
  let k = 0;
  // Bursts: the requests' timing within a flush does not change what the flush writes, and bursts let this machine send and serve thousands a second.
  const load = new PacedLoad({ rps: replicas.length * o.services * rate, tickMs: BURST_MS, maxInFlight: 10_000 }, () => {
    const replica = replicas[k % replicas.length] as Replica;
    const service = Math.floor(k / replicas.length) % o.services;
    k++;
    return { origin: replica.proxyUrl, path: servicePath(service), key: `user-${k % KEYS}` };
  });
  load.start();
  try {
    await sleep(o.warmupS * 1000);
    const from = await redis.sample();
    await sleep(o.windowS * 1000);
    const to = await redis.sample();
    return { rate, redis: delta(from, to), load: await load.stop() };
  } finally {
    await load.stop();
  }
}

export const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;
const fmtPerS = (x: number): string => Math.round(x).toLocaleString('en-US');
