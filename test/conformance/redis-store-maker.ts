import { randomUUID } from 'node:crypto';
import { silentLogger } from '../../src/app/logger.js';
import type { RedisConfig } from '../../src/config/schema.js';
import { createRedisStore } from '../../src/store/redis/connect.js';
import type { RedisStore } from '../../src/store/redis/redis-store.js';
import { eventually, type StoreUnderTest } from './store-conformance.js';

/**
 * Stores on a fresh key prefix per test, reaching Redis as `address()` says (a
 * URL, sentinels or cluster nodes, read when a test starts: the servers are
 * started in beforeAll); their replicas share the prefix, as gateway replicas
 * share a deployment's. `removeKeys` deletes the prefix's keys afterwards.
 */
export function redisStoreMaker(
  address: () => Omit<RedisConfig, 'keyPrefix'>,
  removeKeys: (keyPrefix: string) => Promise<void>,
): () => Promise<StoreUnderTest> {
  return async () => {
    const keyPrefix = `sy-test-${randomUUID()}`;
    const opened: RedisStore[] = [];
    const open = async () => {
      const store = createRedisStore({ ...address(), keyPrefix }, silentLogger);
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
        await removeKeys(keyPrefix);
      },
    };
  };
}
