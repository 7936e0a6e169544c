import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { bpToPercent, isValidPercent, MAX_WEIGHT_BP, percentToBp } from '../../src/core/weight.js';

describe('weight', () => {
  test('the full weight is 10000 basis points', () => {
    expect(MAX_WEIGHT_BP).toBe(10_000);
    expect(percentToBp(100)).toBe(MAX_WEIGHT_BP);
  });

  test.each([
    [0, 0],
    [0.01, 1],
    [5, 500],
    [12.34, 1_234],
    [33.33, 3_333],
    [99.99, 9_999],
  ])('%s%% is %s bp', (percent, bp) => {
    expect(percentToBp(percent)).toBe(bp);
    expect(bpToPercent(bp)).toBe(percent);
  });

  test.each([
    [0.07, 7],
    [0.29, 29],
    [1.1, 110],
    [4.35, 435],
    [57.01, 5_701],
  ])('binary floating point does not lose a basis point: %s%% is %s bp', (percent, bp) => {
    // 0.29 * 100 is 28.999999999999996 and 4.35 * 100 is 434.99999999999994: truncating would be off by one.
    expect(percentToBp(percent)).toBe(bp);
    expect(isValidPercent(percent)).toBe(true);
  });

  test('every basis point from 0 to 10000 round-trips through percent and is a valid percent', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_WEIGHT_BP }), (bp) => {
        const percent = bpToPercent(bp);
        expect(isValidPercent(percent)).toBe(true);
        expect(percentToBp(percent)).toBe(bp);
      }),
      { numRuns: 2_000 },
    );
  });

  test('a percent with a third decimal is not valid', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 99_999 }).filter((thousandths) => thousandths % 10 !== 0),
        (thousandths) => {
          expect(isValidPercent(thousandths / 1_000)).toBe(false);
        },
      ),
    );
  });

  test.each([-0.01, -1, 100.01, 101, 12.345, 0.001, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])(
    '%s is not a valid percent',
    (percent) => {
      expect(isValidPercent(percent)).toBe(false);
    },
  );
});
