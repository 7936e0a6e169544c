import { describe, expect, test } from 'vitest';
import { formatFieldPath, parseFieldPath, readJsonField } from '../../src/core/field-path.js';
import { violation } from '../../src/core/guardrail.js';
import { predictionRule, readPrediction } from '../../src/core/shadow/prediction.js';

describe('formatFieldPath', () => {
  test('joins keys with dots and writes indexes in brackets; the empty path is the root', () => {
    expect(formatFieldPath(['services', 'fraud-scorer', 'rollout', 'steps', 2, 'weight'], '(root)')).toBe('services.fraud-scorer.rollout.steps[2].weight');
    expect(formatFieldPath([0, 'a'], 'body')).toBe('[0].a');
    expect(formatFieldPath([], 'body')).toBe('body');
  });

  test('is the inverse of parseFieldPath for every path parseFieldPath accepts', () => {
    for (const text of ['score', 'predictions[0].score', 'a.b[2][3].c']) expect(formatFieldPath(parseFieldPath(text) ?? [], '')).toBe(text);
  });
});

describe('readJsonField', () => {
  test('reads nested keys and array indexes', () => {
    expect(readJsonField('{"predictions":[{"score":0.9}]}', ['predictions', 0, 'score'])).toEqual({ found: true, value: 0.9 });
    expect(readJsonField('{"a":null}', ['a'])).toEqual({ found: true, value: null });
  });

  test('tells an answer that is not JSON from one without the field', () => {
    expect(readJsonField('<html>', ['a'])).toEqual({ found: false, reason: 'not-json' });
    expect(readJsonField('{"a":1}', ['b'])).toEqual({ found: false, reason: 'missing' });
    expect(readJsonField('{"a":1}', ['a', 'b'])).toEqual({ found: false, reason: 'missing' });
    expect(readJsonField('{"a":[]}', ['a', 0])).toEqual({ found: false, reason: 'missing' });
  });

  test.each([['__proto__'], ['constructor'], ['prototype'], ['toString'], ['hasOwnProperty']])('never reads %s from the prototype', (key) => {
    expect(readJsonField('{"a":{}}', ['a', key])).toEqual({ found: false, reason: 'missing' });
    expect(readJsonField('{"a":[]}', ['a', key, 'length'])).toEqual({ found: false, reason: 'missing' });
  });

  test('reads a field the answer itself names __proto__ or constructor', () => {
    expect(readJsonField('{"__proto__":{"score":0.4}}', ['__proto__', 'score'])).toEqual({ found: true, value: 0.4 });
    expect(readJsonField('{"constructor":7}', ['constructor'])).toEqual({ found: true, value: 7 });
  });

  test('the guardrail and the shadow prediction both read through it: a prototype value passes neither', () => {
    const path = ['predictions', '__proto__', 'length'];
    // Array.prototype.length is 0, inside 0..1: read from the prototype, the guardrail would pass this answer.
    expect(violation('{"predictions":[]}', { path, field: 'predictions.__proto__.length', min: 0, max: 1 })).toBe('answer has no predictions.__proto__.length');
    const rule = predictionRule('predictions.__proto__.length', 'score');
    expect(rule === null ? 'no rule' : readPrediction('{"predictions":[]}', rule)).toBeNull();
  });
});
