import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { silentLogger } from '../../src/app/logger.js';
import type { StoreChange, StoreHealth } from '../../src/app/store.js';
import { createRedisStore } from '../../src/store/redis/connect.js';
import type { RedisStore } from '../../src/store/redis/redis-store.js';
import { auditOf, eventually, stateOf } from '../conformance/store-conformance.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';

const T0 = 1_700_000_000_000;
const stores: RedisStore[] = [];

function open(url: string, keyPrefix = `sy-test-${randomUUID()}`, startupWaitMs?: number): RedisStore {
  const store = createRedisStore({ url, keyPrefix }, silentLogger, startupWaitMs === undefined ? {} : { startupWaitMs });
  stores.push(store);
  return store;
}

afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

describe('redis store on the shared server', () => {
  const url = inject('redisUrl');

  it('puts every key of a service under its hash tag', async () => {
    const keyPrefix = `sy-test-${randomUUID()}`;
    const store = open(url, keyPrefix);
    const first = stateOf('fraud-scorer');
    await store.initState(first, auditOf(null, first, T0));
    const pin = { service: 'fraud-scorer', key: 'alice', version: 'v2', reason: 'r', author: 'a', createdAt: T0, expiresAt: T0 + 1_000 };
    await store.putOverride(pin, { service: 'fraud-scorer', actor: 'a', action: 'override-put', reason: 'r', at: T0, before: null, after: pin });

    const admin = new Redis(url);
    const keys = (await admin.keys(`${keyPrefix}:*`)).sort();
    await admin.del(...keys);
    await admin.quit();
    expect(keys).toEqual(['audit', 'overrides', 'overrides-exp', 'state'].map((k) => `${keyPrefix}:{fraud-scorer}:${k}`));
  });

  it('delivers a change made through one replica to another, with the full state', async () => {
    const keyPrefix = `sy-test-${randomUUID()}`;
    const [a, b] = [open(url, keyPrefix), open(url, keyPrefix)];
    await eventually(() => a.health().up && b.health().up, 5_000, 'both replicas up');
    const heard: StoreChange[] = [];
    b.subscribe((change) => heard.push(change));
    const first = stateOf('fraud-scorer');
    await a.initState(first, auditOf(null, first, T0));
    await eventually(() => heard.length === 1, 3_000, 'the change on replica B');
    expect(heard).toEqual([{ type: 'state', state: first }]);
  });
});

describe('redis store when Redis goes away', () => {
  let server: RedisServer;

  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(() => server.stop());
  // Every test starts with the server up (and empty: nothing is persisted).
  afterEach(() => server.restart());

  async function connected(): Promise<{ store: RedisStore; health: StoreHealth[] }> {
    const store = open(server.url);
    await eventually(() => store.health().up, 5_000, 'the store to connect');
    const health: StoreHealth[] = [];
    store.onHealth((h) => health.push(h));
    return { store, health };
  }

  it('fails every call within a second with SY_ERR_STORE_UNAVAILABLE and reports the store down', async () => {
    const { store, health } = await connected();
    await server.kill();
    await eventually(() => !store.health().up, 3_000, 'the store to notice');
    expect(health).toEqual([{ up: false, reason: expect.stringMatching(/^redis: /) }]);

    const first = stateOf('fraud-scorer');
    const calls = [
      () => store.getState('fraud-scorer'),
      () => store.initState(first, auditOf(null, first, T0)),
      () => store.compareAndSet(1, first, auditOf(null, first, T0)),
      () => store.listOverrides('fraud-scorer', T0),
      () => store.readAudit({ services: ['fraud-scorer'], limit: 10 }),
    ];
    for (const call of calls) {
      const started = Date.now();
      await expect(call()).rejects.toMatchObject({ code: 'SY_ERR_STORE_UNAVAILABLE', message: expect.stringMatching(/^store unreachable: /) });
      expect(Date.now() - started).toBeLessThan(1_000);
    }
  });

  it('comes back by itself when Redis returns, and its subscriptions deliver again', async () => {
    const { store, health } = await connected();
    const heard: StoreChange[] = [];
    store.subscribe((change) => heard.push(change));
    await server.kill();
    await eventually(() => !store.health().up, 3_000, 'the store to notice');

    await server.restart();
    await eventually(() => store.health().up, 5_000, 'the store to reconnect');
    expect(health.map((h) => h.up)).toEqual([false, true]);

    // The restarted server is empty, and its script cache too.
    const first = stateOf('fraud-scorer');
    expect(await store.initState(first, auditOf(null, first, T0))).toEqual(first);
    await eventually(() => heard.length === 1, 3_000, 'the change after the restart');
    expect(heard).toEqual([{ type: 'state', state: first }]);
  });

  it('waits briefly for a first connection at start-up, then fails fast until Redis appears', async () => {
    await server.kill();
    const store = open(server.url, undefined, 200);
    const started = Date.now();
    await expect(store.getState('fraud-scorer')).rejects.toMatchObject({ code: 'SY_ERR_STORE_UNAVAILABLE' });
    expect(Date.now() - started).toBeLessThan(1_000);

    await server.restart();
    await eventually(() => store.health().up, 5_000, 'the store to connect');
    expect(await store.getState('fraud-scorer')).toBeNull();
  });
});
