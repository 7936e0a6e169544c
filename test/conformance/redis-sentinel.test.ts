import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { startSentinelGroup, type SentinelGroup } from '../helpers/redis-server.js';
import { describeAnalysisStoreConformance } from './analysis-store-conformance.js';
import { redisStoreMaker } from './redis-store-maker.js';
import { describeStoreConformance } from './store-conformance.js';

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

/** Stores that reach Redis through the sentinels. */
const makeStore = redisStoreMaker(
  () => ({ sentinels: [...group.sentinels], name: group.name }),
  async (keyPrefix) => {
    const keys = await admin.keys(`${keyPrefix}:*`);
    if (keys.length > 0) await admin.del(...keys);
  },
);

describeStoreConformance('redis via sentinel', makeStore);
describeAnalysisStoreConformance('redis via sentinel', makeStore);
