import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, inject } from 'vitest';
import { silentLogger } from '../../src/app/logger.js';
import type { RedisStore } from '../../src/store/redis/redis-store.js';
import { createRedisStore } from '../../src/store/redis/connect.js';
import { describeAnalysisStoreConformance } from './analysis-store-conformance.js';
import { describeStoreConformance, eventually, type StoreUnderTest } from './store-conformance.js';

const url = inject('redisUrl');
/** Removes each test's keys from the shared server, which other test files use too. */
let admin: Redis;

beforeAll(() => {
  admin = new Redis(url);
});
afterAll(() => admin.quit());

/** A store on a fresh key prefix; its replicas share the prefix, as gateway replicas share a deployment's. */
async function makeStore(): Promise<StoreUnderTest> {
  const keyPrefix = `sy-test-${randomUUID()}`;
  const opened: RedisStore[] = [];
  const open = async () => {
    const store = createRedisStore({ url, keyPrefix }, silentLogger);
    opened.push(store);
    await eventually(() => store.health().up, 5_000, 'the store to connect and subscribe');
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

describeStoreConformance('redis', makeStore);
describeAnalysisStoreConformance('redis', makeStore);
