import { Cluster } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { startRedisCluster, type RedisCluster } from '../helpers/redis-server.js';
import { describeAnalysisStoreConformance } from './analysis-store-conformance.js';
import { redisStoreMaker } from './redis-store-maker.js';
import { describeStoreConformance } from './store-conformance.js';

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

/** Stores on the three-master Cluster. */
const makeStore = redisStoreMaker(
  () => ({ cluster: [...cluster.nodes] }),
  async (keyPrefix) => {
    const perMaster = await Promise.all(admin.nodes('master').map((node) => node.keys(`${keyPrefix}:*`)));
    // One DEL per key: keys of different services live in different slots.
    await Promise.all(perMaster.flat().map((key) => admin.del(key)));
  },
);

describeStoreConformance('redis cluster', makeStore);
describeAnalysisStoreConformance('redis cluster', makeStore);
