import { Redis } from 'ioredis';
import { bucketStart, latencyKey, type WindowSlice } from '../../src/core/analysis/window.js';
import { serviceKeys } from '../../src/store/redis/keys.js';
import { execAll, windowWrites } from '../../src/store/redis/windows.js';
import { delta, type RedisDelta, type RedisStats } from './redis-stats.js';

/**
 * Redis alone under the flushes' writes, far above what the fleet reaches on
 * this machine: `clients` connections each write one replica's flush of
 * `services` services (one request each, the transactions the store builds
 * with windowWrites) again and again, each flush awaited before the next as the
 * flusher does. It checks how far Redis' main thread CPU stays in proportion
 * to the commands, so the saturation point is less of an extrapolation. The
 * keys have their own prefix and expire within a minute.
 */
export interface StressOptions {
  readonly clients: number;
  readonly services: number;
  readonly seconds: number;
}

const PREFIX = 'bench-stress';
const TTL_MS = 60_000;
const LATENCY_MS = 5;

export async function stressFlushes(redisUrl: string, redis: RedisStats, o: StressOptions): Promise<RedisDelta> {
  const clients = Array.from({ length: o.clients }, () => new Redis(redisUrl));
  const keysOf = (service: string) => serviceKeys(PREFIX, service);
  const deadline = performance.now() + o.seconds * 1000;
  const flushAgain = async (client: Redis) => {
    while (performance.now() < deadline) {
      const bucketMs = bucketStart(Date.now(), 1000);
      const slices: WindowSlice[] = Array.from({ length: o.services }, (_, i) => ({
        service: `stress-${i}`,
        version: 'v1',
        bucketMs,
        arm: { requests: 1, errors: 0, failingKeys: 0, logSum: Math.log(LATENCY_MS), logSqSum: Math.log(LATENCY_MS) ** 2, latency: { [latencyKey(LATENCY_MS)]: 1 } },
      }));
      await Promise.all(windowWrites(client, keysOf, slices, TTL_MS).map(execAll));
    }
  };
  try {
    const from = await redis.sample();
    await Promise.all(clients.map(flushAgain));
    return delta(from, await redis.sample());
  } finally {
    for (const client of clients) client.disconnect();
  }
}
