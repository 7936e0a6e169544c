import { describe, expect, test } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { parseFieldPath } from '../../src/core/field-path.js';
import { violation, type GuardrailRule } from '../../src/core/guardrail.js';

const rule = (field: string, min: number, max: number): GuardrailRule => ({ field, path: parseFieldPath(field) ?? [], min, max });

describe('prediction guardrail', () => {
  test('parses object keys and array indexes, and refuses what is not a path', () => {
    expect(parseFieldPath('score')).toEqual(['score']);
    expect(parseFieldPath('predictions[0].score')).toEqual(['predictions', 0, 'score']);
    expect(parseFieldPath('a.b[2][3].c')).toEqual(['a', 'b', 2, 3, 'c']);
    for (const bad of ['', '.score', 'a..b', 'a[x]', '[0]', 'a[0', 'a.']) expect(parseFieldPath(bad)).toBeNull();
  });

  test('passes a value inside the range, bounds included', () => {
    expect(violation('{"score":0}', rule('score', 0, 1))).toBeNull();
    expect(violation('{"score":1}', rule('score', 0, 1))).toBeNull();
    expect(violation('{"predictions":[{"score":0.3}]}', rule('predictions[0].score', 0, 1))).toBeNull();
  });

  test('names the field, the value and the range of a violation', () => {
    expect(violation('{"score":1.5}', rule('score', 0, 1))).toBe('score = 1.5 is outside 0..1');
    expect(violation('{"predictions":[]}', rule('predictions[0].score', 0, 1))).toBe('answer has no predictions[0].score');
    expect(violation('{"score":"high"}', rule('score', 0, 1))).toBe('answer has no numeric score');
    expect(violation('<html>', rule('score', 0, 1))).toBe('answer is not JSON');
  });
});

describe('guardrail configuration', () => {
  const yaml = (guardrail: string) =>
    `services:\n  s:\n    match: { pathPrefix: /s }\n    versions: { v1: { targets: ["http://127.0.0.1:1"] } }\n    guardrail: ${guardrail}\n    rollout: { stable: v1 }\n`;

  test('refuses a bad field path, min above max, and constant without a fallback response, all at once', () => {
    expect(() => parseConfig(yaml('{ field: "a..b", min: 2, max: 1, action: constant }'), {})).toThrow(
      /services\.s\.guardrail\.field: not a field path[\s\S]*services\.s\.guardrail\.max: must be at least min[\s\S]*services\.s\.guardrail\.action: constant needs fallback\.response/,
    );
  });
});
