import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, inject } from 'vitest';
import { silentLogger } from '../../src/app/logger.js';
import { createRedisStore } from '../../src/store/redis/connect.js';
import { describeStoreConformance, eventually } from './store-conformance.js';

const url = inject('redisUrl');
/** Removes each test's keys from the shared server, which other test files use too. */
let admin: Redis;

beforeAll(() => {
  admin = new Redis(url);
});
afterAll(() => admin.quit());

describeStoreConformance('redis', async () => {
  const keyPrefix = `sy-test-${randomUUID()}`;
  const store = createRedisStore({ url, keyPrefix }, silentLogger);
  await eventually(() => store.health().up, 5_000, 'the store to connect and subscribe');
  return {
    store,
    cleanup: async () => {
      await store.close();
      const keys = await admin.keys(`${keyPrefix}:*`);
      if (keys.length > 0) await admin.del(...keys);
    },
  };
});
