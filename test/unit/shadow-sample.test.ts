import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { Rng } from '../../bench/detector-lib/rng.js';
import { bucketOf } from '../../src/core/assignment.js';
import { inShadowSample } from '../../src/core/shadow/sample.js';
import { parseSeries, shadowBaseSeries, shadowCompareSeries, shadowSeries } from '../../src/core/shadow/series.js';

/** The version names the config accepts (fast-check cannot generate from a regex with the i flag). */
const VERSION = /^[a-zA-Z0-9][a-zA-Z0-9._-]*$/;

function keys(count: number, seed: number): string[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => `user-${rng.uint32().toString(36)}-${rng.uint32().toString(36)}`);
}

describe('shadow sample', () => {
  test('is the assignment bucket of salt:key below the rate, so every replica mirrors the same keys', () => {
    for (const key of keys(200, 1)) {
      expect(inShadowSample('shadow-salt', key, 2_500)).toBe(bucketOf('shadow-salt', key) < 2_500);
      expect(inShadowSample('shadow-salt', key, 2_500)).toBe(inShadowSample('shadow-salt', key, 2_500));
    }
  });

  test('raising the rate only adds keys to the sample', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 10_000 }), (salt, key, a, b) => {
        const [low, high] = a <= b ? [a, b] : [b, a];
        return !inShadowSample(salt, key, low) || inShadowSample(salt, key, high);
      }),
    );
  });

  test('takes none at 0, all at 10000, and close to the rate in between', () => {
    const sample = keys(20_000, 2);
    expect(sample.some((k) => inShadowSample('s', k, 0))).toBe(false);
    expect(sample.every((k) => inShadowSample('s', k, 10_000))).toBe(true);
    for (const bp of [100, 1_000, 5_000]) {
      const share = sample.filter((k) => inShadowSample('s', k, bp)).length / sample.length;
      // Binomial sd at p = 0.5, n = 20000 is 0.0035; 0.01 is about 3 sd.
      expect(Math.abs(share - bp / 10_000)).toBeLessThan(0.01);
    }
  });

  test('its own salt makes the sample independent of who the canary takes', () => {
    const sample = keys(20_000, 3);
    const canary = sample.filter((k) => bucketOf('fraud-scorer:v2', k) < 2_000);
    const mirroredShare = canary.filter((k) => inShadowSample('fraud-scorer:shadow:v3', k, 2_000)).length / canary.length;
    expect(Math.abs(mirroredShare - 0.2)).toBeLessThan(0.025);
  });
});

describe('shadow series names', () => {
  test('name the shadow, its stable baseline and the comparison, and parse back', () => {
    expect(shadowSeries('v3')).toBe('shadow:v3');
    expect(shadowBaseSeries('v3')).toBe('shadow-base:v3');
    expect(shadowCompareSeries('v3')).toBe('shadow-cmp:v3');
    expect(parseSeries('shadow:v3')).toEqual({ kind: 'shadow', version: 'v3' });
    expect(parseSeries('shadow-base:v3')).toEqual({ kind: 'shadow-base', version: 'v3' });
    expect(parseSeries('shadow-cmp:v3')).toEqual({ kind: 'shadow-cmp', version: 'v3' });
  });

  test('never take a version name for a shadow series, nor the reverse', () => {
    const version = fc.stringMatching(VERSION);
    fc.assert(
      fc.property(version, (v) => {
        expect(parseSeries(v)).toEqual({ kind: 'version', version: v });
        for (const name of [shadowSeries(v), shadowBaseSeries(v), shadowCompareSeries(v)]) {
          expect(VERSION.test(name)).toBe(false);
          expect(parseSeries(name).version).toBe(v);
        }
      }),
    );
  });
});
