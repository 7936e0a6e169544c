import { randomUUID } from 'node:crypto';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { silentLogger } from '../../src/app/logger.js';
import { createRedisStore } from '../../src/store/redis/connect.js';
import type { RedisStore } from '../../src/store/redis/redis-store.js';
import { startRedisCluster, type RedisCluster } from '../helpers/redis-server.js';
import { describeAnalysisStoreConformance } from './analysis-store-conformance.js';
import { describeStoreConformance, eventually, type StoreUnderTest } from './store-conformance.js';

let cluster: RedisCluster;
/** Removes each test's keys, which a Cluster spreads over its masters by hash tag. */
let admin: Cluster;

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  admin = new Cluster([...cluster.nodes]);
});
afterAll(async () => {
  await admin.quit();
  await cluster.stop();
});

/** A store on a fresh key prefix on the three-master Cluster; its replicas share the prefix. */
async function makeStore(): Promise<StoreUnderTest> {
  const keyPrefix = `sy-test-${randomUUID()}`;
  const opened: RedisStore[] = [];
  const open = async () => {
    const store = createRedisStore({ cluster: [...cluster.nodes], keyPrefix }, silentLogger);
    opened.push(store);
    await eventually(() => store.health().up, 5_000, 'the store to connect to the cluster and subscribe');
    return store;
  };
  const store = await open();
  return {
    store,
    replica: open,
    cleanup: async () => {
      await Promise.all(opened.map((s) => s.close()));
      const perMaster = await Promise.all(admin.nodes('master').map((node) => node.keys(`${keyPrefix}:*`)));
      // One DEL per key: keys of different services live in different slots.
      await Promise.all(perMaster.flat().map((key) => admin.del(key)));
    },
  };
}

describeStoreConformance('redis cluster', makeStore);
describeAnalysisStoreConformance('redis cluster', makeStore);
