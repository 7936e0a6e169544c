import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../src/app/store.js';
import { EMPTY_ARM, mergeArms, MAX_BUCKETS_PER_READ, type ArmWindow, type WindowSlice } from '../../src/core/analysis/window.js';
import type { Verdict } from '../../src/core/rollout-state.js';
import type { StoreUnderTest } from './store-conformance.js';

const T0 = 1_700_000_000_000;
const WIDTH = 1_000;
const DAY = 86_400_000;

/** Log sums in 1/64ths stay exact in any order of addition, so replicas' totals can be compared with toEqual. */
function arm(requests: number, errors = 0, patch: Partial<ArmWindow> = {}): ArmWindow {
  return { requests, errors, failingKeys: errors, logSum: requests * 4.5, logSqSum: requests * 20.25, latency: { '112': requests }, ...patch };
}

function slice(version: string, bucketMs: number, a: ArmWindow, service = 'fraud-scorer'): WindowSlice {
  return { service, version, bucketMs, arm: a };
}

/** Polls an asynchronous check that a real server settles in its own time; fails after `timeoutMs`. */
async function eventuallyAsync(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A seeded stream of one-request slices: 600 requests over 5 buckets and 2 versions. */
function traffic(): WindowSlice[] {
  let seed = 42;
  // Park–Miller: the product stays below 2^53, so the stream is exact and the same everywhere.
  const next = () => (seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647;
  return Array.from({ length: 600 }, () => {
    const failed = next() < 0.1;
    const logLatency = Math.floor(next() * 640) / 64;
    const a: ArmWindow = {
      requests: 1,
      errors: failed ? 1 : 0,
      failingKeys: failed ? 1 : 0,
      logSum: logLatency,
      logSqSum: Math.floor(logLatency * logLatency * 64) / 64,
      latency: { [String(Math.floor(next() * 300) - 100)]: 1 },
    };
    return slice(next() < 0.2 ? 'v2' : 'v1', T0 + Math.floor(next() * 5) * WIDTH, a);
  });
}

function verdictOf(result: Verdict['result'], at: number): Verdict {
  return {
    result,
    reason: `candidate error rate 4.1% vs stable 0% (evidence 142 ≥ 100)`,
    at,
    hold: false,
    checks: [
      { name: 'errors', value: 142, threshold: 100, result: 'fail', detail: 'e-process', meaning: 'the candidate fails more often than stable' },
      { name: 'latency', value: null, threshold: 1.1, result: 'inconclusive', detail: 'too few samples', meaning: 'not judged yet' },
    ],
    startedAt: at - 60_000,
    held: { kind: 'sample-ratio', reason: 'candidate share 9% vs weight 5%', since: at - 5_000 },
    // A ratio against a stable error rate of 0 is infinite; it must come back as it went in.
    figures: { candidateRequests: 1200, errorRatio: Infinity, latencyRatio: Number.NaN },
  };
}

/** The analysis part of the Store contract: windows, leases and verdicts, run against every implementation. */
export function describeAnalysisStoreConformance(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  describe(`${name} store conformance: analysis`, () => {
    let subject: StoreUnderTest;
    let store: Store;

    beforeEach(async () => {
      subject = await makeStore();
      store = subject.store;
    });
    afterEach(() => subject.cleanup());

    describe('windows', () => {
      it('reads back what was added, per version and bucket, oldest first, leaving out empty buckets', async () => {
        const written = [slice('v2', T0 + 2 * WIDTH, arm(3, 1)), slice('v1', T0, arm(10, 2)), slice('v2', T0, arm(4))];
        await store.addWindows(written, DAY);
        expect(await store.readWindows('fraud-scorer', T0, T0 + 5 * WIDTH, WIDTH)).toEqual([
          slice('v1', T0, arm(10, 2)),
          slice('v2', T0, arm(4)),
          slice('v2', T0 + 2 * WIDTH, arm(3, 1)),
        ]);
      });

      it('sums the same version and bucket within one call and across calls, latency keys included', async () => {
        const a = arm(2, 1, { latency: { '-5': 1, '112': 1 } });
        const b = arm(3, 0, { latency: { '112': 2, '300': 1 } });
        await store.addWindows([slice('v1', T0, a), slice('v1', T0, b)], DAY);
        await store.addWindows([slice('v1', T0, a)], DAY);
        const [read] = await store.readWindows('fraud-scorer', T0, T0 + WIDTH, WIDTH);
        expect(read?.arm).toEqual(mergeArms(mergeArms(a, b), a));
        expect(read?.arm.latency).toEqual({ '-5': 2, '112': 4, '300': 1 });
      });

      it('reads from fromMs inclusive to toMs exclusive, starting at the first whole bucket, one service only', async () => {
        const buckets = [T0, T0 + WIDTH, T0 + 2 * WIDTH];
        await store.addWindows(
          [...buckets.map((b) => slice('v1', b, arm(1))), slice('v1', T0 + WIDTH, arm(7), 'other-service')],
          DAY,
        );
        const starts = async (from: number, to: number) => (await store.readWindows('fraud-scorer', from, to, WIDTH)).map((s) => s.bucketMs);
        expect(await starts(T0, T0 + 2 * WIDTH)).toEqual([T0, T0 + WIDTH]);
        expect(await starts(T0 + 1, T0 + 2 * WIDTH + 1)).toEqual([T0 + WIDTH, T0 + 2 * WIDTH]);
        expect(await starts(T0, T0)).toEqual([]);
        expect(await store.readWindows('nobody', T0, T0 + 3 * WIDTH, WIDTH)).toEqual([]);
      });

      it('refuses a width that is not a positive whole number and a range of more buckets than one read may take', async () => {
        await expect(store.readWindows('fraud-scorer', T0, T0 + WIDTH, 0)).rejects.toMatchObject({ code: 'SY_ERR_VALIDATION' });
        await expect(store.readWindows('fraud-scorer', T0, T0 + WIDTH, 2.5)).rejects.toMatchObject({ code: 'SY_ERR_VALIDATION' });
        const tooFar = T0 + (MAX_BUCKETS_PER_READ + 1) * WIDTH;
        await expect(store.readWindows('fraud-scorer', T0, tooFar, WIDTH)).rejects.toMatchObject({ code: 'SY_ERR_VALIDATION' });
      });

      it('adds up windows written by several replicas exactly as if one had written them all', async () => {
        const events = traffic();
        const replicas = [store, await subject.replica(), await subject.replica()];
        const one = events.map((s) => ({ ...s, service: 'one' }));
        const split = events.map((s) => ({ ...s, service: 'split' }));
        // One replica flushes every 50 requests; three replicas each take every third request and flush every 17.
        for (let i = 0; i < one.length; i += 50) await store.addWindows(one.slice(i, i + 50), DAY);
        for (const [r, replica] of replicas.entries()) {
          const mine = split.filter((_, i) => i % 3 === r);
          for (let i = 0; i < mine.length; i += 17) await replica.addWindows(mine.slice(i, i + 17), DAY);
        }

        const fromOne = await store.readWindows('one', T0, T0 + 5 * WIDTH, WIDTH);
        const fromSplit = await replicas[2]?.readWindows('split', T0, T0 + 5 * WIDTH, WIDTH);
        expect(fromSplit?.map((s) => ({ ...s, service: 'one' }))).toEqual(fromOne);
        expect(fromOne).toHaveLength(10);
        const total = fromOne.reduce((acc, s) => mergeArms(acc, s.arm), EMPTY_ARM);
        expect(total).toEqual(events.reduce((acc, s) => mergeArms(acc, s.arm), EMPTY_ARM));
      });

      it('keeps named counters, summing them across writers and calls, and leaves them off windows that had none', async () => {
        // Counters are floats (HINCRBYFLOAT); dyadic values keep the sums exact in any order.
        const a = arm(2, 1, { counters: { dabs: 0.375, sb3: 1, cb9: 1 } });
        const b = arm(1, 0, { counters: { dabs: 1.5, sb3: 2, zero_1: 0.25 } });
        const other = await subject.replica();
        await store.addWindows([slice('shadow-cmp:v2', T0, a), slice('v1', T0, arm(5))], DAY);
        await other.addWindows([slice('shadow-cmp:v2', T0, b)], DAY);
        await store.addWindows([slice('shadow-cmp:v2', T0, a)], DAY);
        const read = await store.readWindows('fraud-scorer', T0, T0 + WIDTH, WIDTH);
        expect(read).toEqual([slice('shadow-cmp:v2', T0, mergeArms(mergeArms(a, b), a)), slice('v1', T0, arm(5))]);
        expect(read[0]?.arm.counters).toEqual({ dabs: 2.25, sb3: 4, cb9: 2, zero_1: 0.25 });
        expect(read[1]?.arm).not.toHaveProperty('counters');
      });

      it('refuses a counter name outside [a-z0-9_] or a value that is not finite, writing nothing of that call', async () => {
        const bad: Array<Record<string, number>> = [{ 'a|b': 1 }, { 'a:b': 1 }, { '': 1 }, { ok: Number.NaN }, { ok: Infinity }];
        for (const counters of bad) {
          const call = store.addWindows([slice('v1', T0, arm(1)), slice('v2', T0, arm(1, 0, { counters }))], DAY);
          await expect(call).rejects.toMatchObject({ code: 'SY_ERR_VALIDATION' });
        }
        expect(await store.readWindows('fraud-scorer', T0, T0 + WIDTH, WIDTH)).toEqual([]);
      });

      it('forgets a bucket ttlMs after its last write, keeping the ones written since', async () => {
        await store.addWindows([slice('v1', T0, arm(1))], 200);
        // The memory store's clock for expiry is the newest bucket written; Redis uses its own.
        await store.addWindows([slice('v1', T0 + 10 * WIDTH, arm(2))], DAY);
        const read = () => store.readWindows('fraud-scorer', T0, T0 + 11 * WIDTH, WIDTH);
        await eventuallyAsync(async () => (await read()).length === 1, 3_000, 'the first bucket to expire');
        expect(await read()).toEqual([slice('v1', T0 + 10 * WIDTH, arm(2))]);
      });
    });

    describe('leases', () => {
      it('lets the holder renew its lease', async () => {
        expect(await store.acquireLease('analysis', 'replica-a', 200)).toBe(true);
        expect(await store.acquireLease('analysis', 'replica-a', 200)).toBe(true);
      });

      it('grants a lease to one holder at a time until its holder releases it (memory: the one process holds every lease)', async () => {
        const exclusive = store.kind !== 'memory';
        expect(await store.acquireLease('analysis', 'replica-a', 10_000)).toBe(true);
        expect(await store.acquireLease('analysis', 'replica-b', 10_000)).toBe(!exclusive);
        expect(await store.acquireLease('other-lease', 'replica-b', 10_000)).toBe(true);
        await store.releaseLease('analysis', 'replica-b');
        if (exclusive) expect(await store.acquireLease('analysis', 'replica-c', 10_000)).toBe(false);
        await store.releaseLease('analysis', 'replica-a');
        expect(await store.acquireLease('analysis', 'replica-c', 10_000)).toBe(true);
      });

      it('passes a lease that was not renewed to another holder once its TTL is over', async (ctx) => {
        if (store.kind === 'memory') ctx.skip();
        const started = Date.now();
        expect(await store.acquireLease('analysis', 'replica-a', 200)).toBe(true);
        await eventuallyAsync(() => store.acquireLease('analysis', 'replica-b', 10_000), 3_000, 'the lease to expire');
        expect(Date.now() - started).toBeGreaterThanOrEqual(190);
        expect(await store.acquireLease('analysis', 'replica-a', 200)).toBe(false);
      });

      it('keeps a renewed lease past its first TTL', async (ctx) => {
        if (store.kind === 'memory') ctx.skip();
        expect(await store.acquireLease('analysis', 'replica-a', 200)).toBe(true);
        for (let round = 0; round < 8; round++) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          expect(await store.acquireLease('analysis', 'replica-a', 200)).toBe(true);
          expect(await store.acquireLease('analysis', 'replica-b', 200)).toBe(false);
        }
      });
    });

    describe('verdicts', () => {
      it('keeps the latest verdict of each service, non-finite figures included', async () => {
        expect(await store.getVerdict('fraud-scorer')).toBeNull();
        await store.putVerdict('fraud-scorer', verdictOf('inconclusive', T0));
        expect(await store.getVerdict('fraud-scorer')).toEqual(verdictOf('inconclusive', T0));
        await store.putVerdict('fraud-scorer', verdictOf('fail', T0 + 5_000));
        expect(await store.getVerdict('fraud-scorer')).toEqual(verdictOf('fail', T0 + 5_000));
        expect(await store.getVerdict('other-service')).toBeNull();
      });
    });
  });
}
