import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { durationText } from '../../src/core/duration-text.js';
import { parseDuration } from '../../src/config/duration.js';

const UNIT_MS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 };

describe('durationText', () => {
  test.each([
    [0, '0ms'],
    [250, '250ms'],
    [999, '999ms'],
    [1000, '1s'],
    [59_999, '59s'],
    [150_000, '2m 30s'],
    [3_595_000, '59m 55s'],
    [3_600_000, '1h'],
    [3_605_000, '1h 5s'],
    [90_061_000, '1d 1h'],
    [2_592_000_000, '30d'],
  ])('%i ms reads %j', (ms, text) => {
    expect(durationText(ms)).toBe(text);
  });

  test('from a second on: at most two units, largest first, truncated below the smallest one shown', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1000, max: 400 * 86_400_000 }), (ms) => {
        const parts = durationText(ms).split(' ');
        expect(parts.length).toBeGreaterThanOrEqual(1);
        expect(parts.length).toBeLessThanOrEqual(2);
        const sizes = parts.map((part) => UNIT_MS[part.replace(/^\d+/, '')] ?? Number.NaN);
        expect(sizes.every((size) => size > 0)).toBe(true);
        if (sizes.length === 2) expect(sizes[0]).toBeGreaterThan(sizes[1]!);
        const shownMs = parts.reduce((sum, part) => sum + (parseDuration(part) ?? Number.NaN), 0);
        expect(shownMs).toBeLessThanOrEqual(ms);
        expect(ms - shownMs).toBeLessThan(sizes[sizes.length - 1]!);
      }),
    );
  });
});
