import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { silentLogger } from '../../src/app/logger.js';
import { createRedisStore } from '../../src/store/redis/connect.js';
import type { RedisStore } from '../../src/store/redis/redis-store.js';
import { startSentinelGroup, type SentinelGroup } from '../helpers/redis-server.js';
import { describeAnalysisStoreConformance } from './analysis-store-conformance.js';
import { describeStoreConformance, eventually, type StoreUnderTest } from './store-conformance.js';

let group: SentinelGroup;
/** Removes each test's keys; it finds the master through the sentinels, as the stores do. */
let admin: Redis;

beforeAll(async () => {
  // No failover is wanted here: a generous down-after keeps a stalled machine from starting one.
  group = await startSentinelGroup({ downAfterMs: 5_000 });
  admin = new Redis({ sentinels: [...group.sentinels], name: group.name });
});
afterAll(async () => {
  await admin.quit();
  await group.stop();
});

/** A store on a fresh key prefix that reaches Redis through the sentinels; its replicas share the prefix. */
async function makeStore(): Promise<StoreUnderTest> {
  const keyPrefix = `sy-test-${randomUUID()}`;
  const opened: RedisStore[] = [];
  const open = async () => {
    const store = createRedisStore({ sentinels: [...group.sentinels], name: group.name, keyPrefix }, silentLogger);
    opened.push(store);
    await eventually(() => store.health().up, 5_000, 'the store to connect through the sentinels and subscribe');
    return store;
  };
  const store = await open();
  return {
    store,
    replica: open,
    cleanup: async () => {
      await Promise.all(opened.map((s) => s.close()));
      const keys = await admin.keys(`${keyPrefix}:*`);
      if (keys.length > 0) await admin.del(...keys);
    },
  };
}

describeStoreConformance('redis via sentinel', makeStore);
describeAnalysisStoreConformance('redis via sentinel', makeStore);
