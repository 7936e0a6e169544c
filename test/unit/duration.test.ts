import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { parseDuration } from '../../src/config/duration.js';

describe('parseDuration', () => {
  test.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['7d', 604_800_000],
    ['0s', 0],
    ['1.5s', 1_500],
    ['0.5m', 30_000],
    ['2.5h', 9_000_000],
    ['0.4ms', 0],
    [' 30s\n', 30_000],
  ])('%j is %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  test.each(['', '30', 's', '5 m', '-5s', '+5s', '1w', '5M', '5S', '30sec', '5mss', '1e3s', '.5s', '5.s', '1h30m', 'Infinitys', '٣s', 'five s'])(
    '%j is not a duration',
    (text) => {
      expect(parseDuration(text)).toBeNull();
    },
  );

  test('a whole number with any unit is that many units in milliseconds', () => {
    const unitMs = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000 }), fc.constantFrom('ms', 's', 'm', 'h'), (amount, unit) => {
        expect(parseDuration(`${amount}${unit}`)).toBe(amount * unitMs[unit]);
      }),
    );
  });

  test('any text gives either null or a whole, non-negative number of milliseconds, never throws', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^\d{1,6}(\.\d{1,4})?(ms|s|m|h)$/)), (text) => {
        const ms = parseDuration(text);
        if (ms !== null) {
          expect(Number.isInteger(ms)).toBe(true);
          expect(ms).toBeGreaterThanOrEqual(0);
        }
      }),
    );
  });
});
