import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { Flusher } from '../../src/app/flusher.js';
import { silentLogger } from '../../src/app/logger.js';
import type { RequestRecord } from '../../src/app/request-observer.js';
import { WindowRecorder } from '../../src/app/window-recorder.js';
import { EMPTY_ARM, mergeArms, type ArmWindow, type WindowSlice } from '../../src/core/analysis/window.js';
import { createRedisStore } from '../../src/store/redis/connect.js';
import type { RedisStore } from '../../src/store/redis/redis-store.js';
import { eventually } from '../conformance/store-conformance.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';

const T0 = 1_700_000_000_000;
const WIDTH = 1_000;
const TTL = 60_000;
const stores: RedisStore[] = [];

async function open(url: string, keyPrefix: string): Promise<RedisStore> {
  const store = createRedisStore({ url, keyPrefix }, silentLogger);
  stores.push(store);
  await eventually(() => store.health().up, 5_000, 'the store to connect');
  return store;
}

afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

/** One gateway replica's analysis side: recorder and flusher on its own store connection, with a driven clock. */
function replica(store: RedisStore, clock: { now(): number }) {
  const recorder = new WindowRecorder({ bucketMs: WIDTH, clock });
  const flusher = new Flusher({ recorder, store, intervalMs: 1_000, ttlMs: TTL, log: silentLogger });
  return { recorder, flusher };
}

/** 3 s of seeded traffic: users a fixed share of whom fail on v2, latencies spread over two decades. */
function traffic(): Array<{ atMs: number; record: RequestRecord }> {
  let seed = 7;
  const next = () => (seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647;
  return Array.from({ length: 900 }, (_, i) => {
    const key = `user-${Math.floor(next() * 60)}`;
    const version = next() < 0.3 ? 'v2' : 'v1';
    const failed = version === 'v2' && key.endsWith('7');
    const latencyMs = 5 + next() * 500;
    const record: RequestRecord = { service: 'fraud-scorer', version, key, status: failed ? 503 : 200, outcome: failed ? 'status' : 'ok', latencyMs };
    return { atMs: Math.floor((i * 3 * WIDTH) / 900), record };
  });
}

function total(slices: readonly WindowSlice[], version: string): ArmWindow {
  return slices.filter((s) => s.version === version).reduce((acc, s) => mergeArms(acc, s.arm), EMPTY_ARM);
}

function expectSameWindows(actual: ArmWindow, expected: ArmWindow): void {
  const { logSum, logSqSum, ...counts } = actual;
  const { logSum: expectedLogSum, logSqSum: expectedLogSqSum, ...expectedCounts } = expected;
  expect(counts).toEqual(expectedCounts);
  // Float sums differ only in the order of addition.
  expect(logSum).toBeCloseTo(expectedLogSum, 6);
  expect(logSqSum).toBeCloseTo(expectedLogSqSum, 6);
}

describe('analysis windows on a real Redis', () => {
  const url = inject('redisUrl');
  let admin: Redis;

  beforeAll(() => {
    admin = new Redis(url);
  });
  afterAll(() => admin.quit());

  async function cleanup(keyPrefix: string): Promise<void> {
    const keys = await admin.keys(`${keyPrefix}:*`);
    if (keys.length > 0) await admin.del(...keys);
  }

  it('keeps one hash per service and bucket under the service hash tag, expiring, and leases outside any service', async () => {
    const keyPrefix = `sy-test-${randomUUID()}`;
    const store = await open(url, keyPrefix);
    const arm: ArmWindow = { requests: 4, errors: 1, failingKeys: 1, logSum: 18, logSqSum: 81, latency: { '116': 3, '-2': 1 } };
    await store.addWindows([{ service: 'fraud-scorer', version: 'v1', bucketMs: T0, arm }], TTL);
    await store.acquireLease('analysis', 'replica-a', TTL);

    const bucketKey = `${keyPrefix}:{fraud-scorer}:win:${T0}`;
    expect((await admin.keys(`${keyPrefix}:*`)).sort()).toEqual([bucketKey, `${keyPrefix}:lease:analysis`].sort());
    expect(await admin.hgetall(bucketKey)).toEqual({
      'v1|req': '4',
      'v1|err': '1',
      'v1|fk': '1',
      'v1|ls': '18',
      'v1|lq': '81',
      'v1|h116': '3',
      'v1|h-2': '1',
    });
    const ttl = await admin.pttl(bucketKey);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(TTL);
    await cleanup(keyPrefix);
  });

  it('adds up three replicas recording and flushing the same traffic to what one replica counts', async () => {
    const keyPrefix = `sy-test-${randomUUID()}`;
    let t = T0;
    const clock = { now: () => t };
    const singleStore = await open(url, `${keyPrefix}-single`);
    const splitStores: [RedisStore, RedisStore, RedisStore] = [await open(url, keyPrefix), await open(url, keyPrefix), await open(url, keyPrefix)];
    const single = replica(singleStore, clock);
    const split = splitStores.map((store) => replica(store, clock));

    for (const [i, { atMs, record }] of traffic().entries()) {
      t = T0 + atMs;
      single.recorder.observe(record);
      // Sticky by user, as a load balancer with affinity would: each replica sees all of a user's requests.
      split[Number(record.key.slice(5)) % 3]?.recorder.observe(record);
      // Flushes at different moments on every replica, the open bucket included.
      if (i % 97 === 0) await single.flusher.flush();
      if (i % 41 === 0) await split[i % 3]?.flusher.flush();
    }
    await Promise.all([single, ...split].map((r) => r.flusher.flush()));

    const one = await singleStore.readWindows('fraud-scorer', T0, T0 + 3 * WIDTH, WIDTH);
    const three = await splitStores[0].readWindows('fraud-scorer', T0, T0 + 3 * WIDTH, WIDTH);
    expect(three.map((s) => `${s.version}@${s.bucketMs - T0}`)).toEqual(one.map((s) => `${s.version}@${s.bucketMs - T0}`));
    for (const version of ['v1', 'v2']) expectSameWindows(total(three, version), total(one, version));
    expect(total(one, 'v1').requests + total(one, 'v2').requests).toBe(900);
    expect(total(one, 'v2').failingKeys).toBeGreaterThan(0);
    await Promise.all([cleanup(keyPrefix), cleanup(`${keyPrefix}-single`)]);
  });

  it('hands a lease from one replica to another only when the first releases it', async () => {
    const keyPrefix = `sy-test-${randomUUID()}`;
    const [a, b] = [await open(url, keyPrefix), await open(url, keyPrefix)];
    expect(await a.acquireLease('analysis', 'replica-a', TTL)).toBe(true);
    expect(await b.acquireLease('analysis', 'replica-b', TTL)).toBe(false);
    await b.releaseLease('analysis', 'replica-b');
    expect(await b.acquireLease('analysis', 'replica-b', TTL)).toBe(false);
    await a.releaseLease('analysis', 'replica-a');
    expect(await b.acquireLease('analysis', 'replica-b', TTL)).toBe(true);
    await cleanup(keyPrefix);
  });

  it('answers no verdict for one it cannot read instead of failing', async () => {
    const keyPrefix = `sy-test-${randomUUID()}`;
    const store = await open(url, keyPrefix);
    await admin.set(`${keyPrefix}:{fraud-scorer}:verdict`, '{"result":"pass"');
    expect(await store.getVerdict('fraud-scorer')).toBeNull();
    await admin.set(`${keyPrefix}:{fraud-scorer}:verdict`, JSON.stringify({ result: 'maybe', reason: 'x' }));
    expect(await store.getVerdict('fraud-scorer')).toBeNull();
    await cleanup(keyPrefix);
  });
});

describe('analysis windows when Redis goes away', () => {
  let server: RedisServer;

  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(() => server.stop());

  it('keeps what a flush could not write and writes it, exactly, once Redis is back', async () => {
    const store = await open(server.url, `sy-test-${randomUUID()}`);
    let t = T0;
    const { recorder, flusher } = replica(store, { now: () => t });
    const request = (version: string, ok: boolean, key: string) =>
      recorder.observe({ service: 'fraud-scorer', version, key, status: ok ? 200 : 503, outcome: ok ? 'ok' : 'status', latencyMs: 100 });

    await server.kill();
    await eventually(() => !store.health().up, 3_000, 'the store to notice');
    for (const call of [
      () => store.addWindows([{ service: 'fraud-scorer', version: 'v1', bucketMs: T0, arm: EMPTY_ARM }], TTL),
      () => store.readWindows('fraud-scorer', T0, T0 + WIDTH, WIDTH),
      () => store.acquireLease('analysis', 'replica-a', TTL),
      () => store.releaseLease('analysis', 'replica-a'),
      () => store.getVerdict('fraud-scorer'),
    ]) {
      await expect(call()).rejects.toMatchObject({ code: 'SY_ERR_STORE_UNAVAILABLE' });
    }

    request('v1', true, 'alice');
    request('v2', false, 'bob');
    await flusher.flush();
    t += 300;
    request('v2', false, 'bob');
    request('v2', false, 'carol');
    await flusher.flush();

    await server.restart();
    await eventually(() => store.health().up, 5_000, 'the store to reconnect');
    t += WIDTH;
    request('v1', true, 'alice');
    await flusher.flush();

    const read = await store.readWindows('fraud-scorer', T0, T0 + 2 * WIDTH, WIDTH);
    expect(read.map((s) => [s.version, s.bucketMs - T0, s.arm.requests, s.arm.errors, s.arm.failingKeys])).toEqual([
      ['v1', 0, 1, 0, 0],
      ['v2', 0, 3, 3, 2],
      ['v1', WIDTH, 1, 0, 0],
    ]);
  });
});
