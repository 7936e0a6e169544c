import { afterEach, describe, expect, it, vi } from 'vitest';
import { Flusher } from '../../src/app/flusher.js';
import type { Logger } from '../../src/app/logger.js';
import type { Store } from '../../src/app/store.js';
import { WindowRecorder } from '../../src/app/window-recorder.js';
import { EMPTY_ARM, mergeArms, type ArmWindow, type WindowSlice } from '../../src/core/analysis/window.js';
import { SwitchyardError } from '../../src/core/errors.js';

const T0 = 1_700_000_000_000;
const WIDTH = 1_000;
const TTL = 3_600_000;

/** Accepts or refuses writes as the test says, and remembers every accepted batch. */
class FakeStore implements Pick<Store, 'addWindows'> {
  failuresLeft = 0;
  readonly batches: WindowSlice[][] = [];
  readonly ttls: number[] = [];
  /** When set, a write waits for this before answering. */
  gate: Promise<void> | null = null;
  calls = 0;

  async addWindows(slices: readonly WindowSlice[], ttlMs: number): Promise<void> {
    this.calls++;
    if (this.gate !== null) await this.gate;
    if (this.failuresLeft > 0) {
      this.failuresLeft--;
      throw new SwitchyardError('SY_ERR_STORE_UNAVAILABLE', 'store unreachable: connect ECONNREFUSED');
    }
    this.batches.push(structuredClone([...slices]));
    this.ttls.push(ttlMs);
  }

  /** Everything accepted for one version of one bucket. */
  total(version: string, bucketMs = T0): ArmWindow {
    return this.batches
      .flat()
      .filter((s) => s.version === version && s.bucketMs === bucketMs)
      .reduce((acc, s) => mergeArms(acc, s.arm), EMPTY_ARM);
  }
}

function recordingLog() {
  const lines: Array<{ level: string; msg: string; obj: object }> = [];
  const log: Logger = {
    info: (obj, msg) => lines.push({ level: 'info', msg, obj }),
    warn: (obj, msg) => lines.push({ level: 'warn', msg, obj }),
    error: (obj, msg) => lines.push({ level: 'error', msg, obj }),
  };
  return { log, lines };
}

function setup(maxPendingSlices?: number) {
  let t = T0;
  const recorder = new WindowRecorder({ bucketMs: WIDTH, clock: { now: () => t } });
  const store = new FakeStore();
  const { log, lines } = recordingLog();
  const cap = maxPendingSlices === undefined ? {} : { maxPendingSlices };
  const flusher = new Flusher({ recorder, store, intervalMs: 1_000, ttlMs: TTL, log, ...cap });
  const traffic = (version: string, requests: number, failing = 0) => {
    for (let i = 0; i < requests; i++) {
      const failed = i < failing;
      const outcome = failed ? 'status' : 'ok';
      recorder.observe({ service: 'fraud-scorer', version, key: `user-${i}`, status: failed ? 503 : 200, outcome, latencyMs: 100 });
    }
  };
  return { recorder, store, flusher, lines, traffic, at: (ms: number) => void (t = T0 + ms) };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('flusher', () => {
  it('writes what the recorder counted, with the configured TTL, and nothing when nothing came', async () => {
    const { store, flusher, traffic } = setup();
    traffic('v1', 10, 2);
    await flusher.flush();
    expect(store.total('v1')).toMatchObject({ requests: 10, errors: 2, failingKeys: 2 });
    expect(store.ttls).toEqual([TTL]);
    await flusher.flush();
    expect(store.calls).toBe(1);
  });

  it('keeps the slices of failed writes and adds them to the next, so the counts stay exact', async () => {
    const { store, flusher, traffic, at } = setup();
    store.failuresLeft = 2;
    traffic('v1', 10, 3);
    await flusher.flush();
    at(400);
    traffic('v1', 5);
    traffic('v2', 4, 4);
    await flusher.flush();
    at(WIDTH + 100);
    traffic('v1', 3, 1);
    await flusher.flush();

    expect(store.calls).toBe(3);
    expect(store.batches).toHaveLength(1);
    expect(store.total('v1')).toMatchObject({ requests: 15, errors: 3, failingKeys: 3, latency: { '116': 15 } });
    expect(store.total('v2')).toMatchObject({ requests: 4, errors: 4, failingKeys: 4 });
    expect(store.total('v1', T0 + WIDTH)).toMatchObject({ requests: 3, errors: 1, failingKeys: 1 });
    // One slice per version and bucket: the retried parts were merged, not resent side by side.
    expect(store.batches[0]?.map((s) => `${s.version}@${s.bucketMs - T0}`).sort()).toEqual(['v1@0', 'v1@1000', 'v2@0']);
  });

  it('warns once when writes start failing and says when they work again', async () => {
    const { store, flusher, lines, traffic } = setup();
    store.failuresLeft = 3;
    for (let i = 0; i < 4; i++) {
      traffic('v1', 1);
      await flusher.flush();
    }
    expect(lines.map((l) => `${l.level}: ${l.msg}`)).toEqual([
      'warn: analysis windows not written; keeping them for the next flush',
      'info: analysis windows written again after a store outage',
    ]);
    expect(store.total('v1').requests).toBe(4);
  });

  it('drops the oldest buckets beyond its cap while the store is down, and counts them', async () => {
    const { store, flusher, lines, traffic, at } = setup(2);
    store.failuresLeft = 1;
    for (const bucket of [0, 1, 2, 3]) {
      at(bucket * WIDTH);
      traffic('v1', bucket + 1);
    }
    await flusher.flush();
    expect(flusher.droppedSlices).toBe(2);
    expect(lines.some((l) => l.level === 'warn' && l.msg.includes('oldest analysis windows dropped'))).toBe(true);
    await flusher.flush();
    expect(store.batches.flat().map((s) => [s.bucketMs - T0, s.arm.requests])).toEqual([
      [2 * WIDTH, 3],
      [3 * WIDTH, 4],
    ]);
  });

  it('runs one write at a time: a flush during a slow write waits, and no slice is sent twice', async () => {
    const { store, flusher, traffic } = setup();
    let open!: () => void;
    store.gate = new Promise((resolve) => (open = resolve));
    traffic('v1', 2);
    const first = flusher.flush();
    await vi.waitFor(() => expect(store.calls).toBe(1));
    traffic('v1', 3);
    const second = flusher.flush();
    await Promise.resolve();
    expect(store.calls).toBe(1);
    open();
    await Promise.all([first, second]);
    expect(store.batches.map((b) => b[0]?.arm.requests)).toEqual([2, 3]);
  });

  it('flushes on its interval once started, and no more after stop', async () => {
    vi.useFakeTimers();
    const { store, flusher, traffic } = setup();
    flusher.start();
    traffic('v1', 2);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(store.total('v1').requests).toBe(2);
    flusher.stop();
    traffic('v1', 3);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(store.total('v1').requests).toBe(2);
    await flusher.flush();
    expect(store.total('v1').requests).toBe(5);
  });
});
