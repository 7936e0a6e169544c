import { describe, expect, it } from 'vitest';
import { WindowRecorder } from '../../src/app/window-recorder.js';
import type { Outcome, RequestRecord } from '../../src/app/request-observer.js';
import { EMPTY_ARM, mergeArms, type WindowSlice } from '../../src/core/analysis/window.js';

const T0 = 1_700_000_000_000;
const WIDTH = 1_000;

function setup() {
  let t = T0;
  const clock = { now: () => t };
  const recorder = new WindowRecorder({ bucketMs: WIDTH, clock });
  const at = (ms: number) => void (t = T0 + ms);
  return { recorder, at };
}

function req(version: string, outcome: Outcome = 'ok', latencyMs = 100, key = 'alice', service = 'fraud-scorer'): RequestRecord {
  return { service, version, key, status: outcome === 'ok' ? 200 : 503, outcome, latencyMs };
}

/** Everything drained for one service, version and bucket. */
function find(slices: WindowSlice[], version: string, bucketMs = T0, service = 'fraud-scorer') {
  const mine = slices.filter((s) => s.service === service && s.version === version && s.bucketMs === bucketMs);
  return mine.reduce((acc, s) => mergeArms(acc, s.arm), EMPTY_ARM);
}

describe('window recorder', () => {
  it('counts requests, errors, log-latency sums and latency keys per service, version and bucket', () => {
    const { recorder } = setup();
    recorder.observe(req('v1', 'ok', 100));
    recorder.observe(req('v1', 'timeout', 250));
    recorder.observe(req('v1', 'ok', 101));
    recorder.observe(req('v2', 'connect', 5));
    recorder.observe(req('v1', 'ok', 40, 'bob', 'other-service'));
    const slices = recorder.drain();
    expect(slices).toHaveLength(3);

    // key(v) = ceil(ln v / ln γ), ln γ = ln(1.02 / 0.98) = 0.0400053: 100 ms -> ceil(115.11) = 116,
    // 101 ms -> ceil(115.36) = 116, 250 ms -> ceil(138.02) = 139, 5 ms -> ceil(40.23) = 41.
    const v1 = find(slices, 'v1');
    expect(v1).toMatchObject({ requests: 3, errors: 1, failingKeys: 1 });
    expect(v1.logSum).toBeCloseTo(Math.log(100) + Math.log(250) + Math.log(101), 12);
    expect(v1.logSqSum).toBeCloseTo(Math.log(100) ** 2 + Math.log(250) ** 2 + Math.log(101) ** 2, 12);
    expect(v1.latency).toEqual({ '116': 2, '139': 1 });
    expect(find(slices, 'v2')).toMatchObject({ requests: 1, errors: 1, failingKeys: 1, latency: { '41': 1 } });
    expect(find(slices, 'v1', T0, 'other-service')).toMatchObject({ requests: 1, errors: 0, failingKeys: 0 });
  });

  it('counts a failing sticky key once per bucket, however often it fails, and ignores keys that only succeed', () => {
    const { recorder } = setup();
    for (let i = 0; i < 5; i++) recorder.observe(req('v2', 'status', 100, 'alice'));
    recorder.observe(req('v2', 'timeout', 100, 'bob'));
    recorder.observe(req('v2', 'ok', 100, 'carol'));
    expect(find(recorder.drain(), 'v2')).toMatchObject({ requests: 7, errors: 6, failingKeys: 2 });
  });

  it('counts a failing key once per bucket even when the bucket is drained in several parts', () => {
    const { recorder, at } = setup();
    recorder.observe(req('v2', 'status', 100, 'alice'));
    const first = recorder.drain();
    at(300);
    recorder.observe(req('v2', 'status', 100, 'alice'));
    recorder.observe(req('v2', 'status', 100, 'bob'));
    const second = recorder.drain();
    expect(find(first, 'v2')).toMatchObject({ requests: 1, failingKeys: 1 });
    expect(find(second, 'v2')).toMatchObject({ requests: 2, failingKeys: 1 });
    // In the next bucket alice is a new failing key again.
    at(WIDTH);
    recorder.observe(req('v2', 'status', 100, 'alice'));
    expect(find(recorder.drain(), 'v2', T0 + WIDTH)).toMatchObject({ requests: 1, failingKeys: 1 });
  });

  it('puts a request at a bucket boundary into the bucket that starts there', () => {
    const { recorder, at } = setup();
    at(WIDTH - 1);
    recorder.observe(req('v1'));
    at(WIDTH);
    recorder.observe(req('v1'));
    recorder.observe(req('v1'));
    at(3 * WIDTH + 999);
    recorder.observe(req('v1'));
    const slices = recorder.drain();
    expect(slices.map((s) => [s.bucketMs - T0, s.arm.requests])).toEqual([
      [0, 1],
      [WIDTH, 2],
      [3 * WIDTH, 1],
    ]);
  });

  it('hands over each count exactly once across drains, and nothing when no request came', () => {
    const { recorder, at } = setup();
    recorder.observe(req('v1'));
    expect(recorder.drain()).toHaveLength(1);
    expect(recorder.drain()).toEqual([]);
    at(500);
    recorder.observe(req('v1'));
    at(WIDTH + 10);
    // The closed bucket's second part and nothing of the new bucket, which saw no request yet.
    expect(recorder.drain().map((s) => [s.bucketMs - T0, s.arm.requests])).toEqual([[0, 1]]);
    expect(recorder.drain()).toEqual([]);
  });

  it('records a latency of 0 or a broken timer reading as the 0.01 ms floor, keeping the sums finite', () => {
    const { recorder } = setup();
    recorder.observe(req('v1', 'ok', 0));
    recorder.observe(req('v1', 'ok', Number.NaN));
    recorder.observe(req('v1', 'ok', Number.POSITIVE_INFINITY));
    const v1 = find(recorder.drain(), 'v1');
    expect(v1.logSum).toBeCloseTo(3 * Math.log(0.01), 12);
    // ceil(ln 0.01 / ln γ) = ceil(−115.11) = −115
    expect(v1.latency).toEqual({ '-115': 3 });
  });

  it('refuses a bucket width that is not a positive whole number of ms', () => {
    expect(() => new WindowRecorder({ bucketMs: 0, clock: { now: () => T0 } })).toThrow(expect.objectContaining({ code: 'SY_ERR_CONFIG' }));
  });

  it('marks the windows of a drain during which the process was saturated, never the prediction comparisons', () => {
    let saturated = true;
    const recorder = new WindowRecorder({ bucketMs: WIDTH, clock: { now: () => T0 }, saturated: () => saturated });
    recorder.observe(req('v1'));
    recorder.observeShadow({
      service: 'fraud-scorer',
      version: 'v2',
      key: 'alice',
      shadow: { status: 200, outcome: 'ok', latencyMs: 5 },
      base: { status: 200, outcome: 'ok', latencyMs: 4 },
      pair: { kind: 'label', disagree: false },
    });
    const first = recorder.drain();
    expect(find(first, 'v1').counters).toEqual({ gwsat: 1 });
    expect(find(first, 'shadow:v2').counters).toEqual({ gwsat: 1 });
    expect(first.find((s) => s.version === 'shadow-cmp:v2')?.arm.counters).toBeUndefined();
    saturated = false;
    recorder.observe(req('v1'));
    expect(find(recorder.drain(), 'v1').counters).toBeUndefined();
  });
});
