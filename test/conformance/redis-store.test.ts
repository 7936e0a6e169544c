import { Redis } from 'ioredis';
import { afterAll, beforeAll, inject } from 'vitest';
import { describeAnalysisStoreConformance } from './analysis-store-conformance.js';
import { redisStoreMaker } from './redis-store-maker.js';
import { describeStoreConformance } from './store-conformance.js';

const url = inject('redisUrl');
/** Removes each test's keys from the shared server, which other test files use too. */
let admin: Redis;

beforeAll(() => {
  admin = new Redis(url);
});
afterAll(() => admin.quit());

const makeStore = redisStoreMaker(
  () => ({ url }),
  async (keyPrefix) => {
    const keys = await admin.keys(`${keyPrefix}:*`);
    if (keys.length > 0) await admin.del(...keys);
  },
);

describeStoreConformance('redis', makeStore);
describeAnalysisStoreConformance('redis', makeStore);
