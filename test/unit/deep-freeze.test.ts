import { describe, expect, test } from 'vitest';
import { resolveAnalysisConfig } from '../../src/core/analysis/config.js';
import { deepFreeze } from '../../src/core/deep-freeze.js';

describe('deepFreeze', () => {
  test('freezes the value and everything it holds, at any depth, and returns it', () => {
    const value = { a: { b: [{ c: 1 }] }, d: 'text', e: null };
    expect(deepFreeze(value)).toBe(value);
    expect([value, value.a, value.a.b, value.a.b[0]].every((part) => Object.isFrozen(part))).toBe(true);
  });

  test('leaves plain values alone', () => {
    expect(deepFreeze(3)).toBe(3);
    expect(deepFreeze(null)).toBeNull();
  });

  test('a resolved analysis config is frozen down to its grids', () => {
    const config = resolveAnalysisConfig({ errorGrid: [2, 3] });
    expect(Object.isFrozen(config) && Object.isFrozen(config.errorGrid) && Object.isFrozen(config.latencyGridP99)).toBe(true);
  });
});
