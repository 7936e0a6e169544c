import { describe, expect, test } from 'vitest';
import { predictionRule, readPrediction, type PredictionKind, type PredictionRule } from '../../src/core/shadow/prediction.js';

function rule(field: string, kind: PredictionKind): PredictionRule {
  const r = predictionRule(field, kind);
  if (r === null) throw new Error(`bad test path ${field}`);
  return r;
}

describe('reading a prediction from a model answer', () => {
  const score = rule('predictions[0].score', 'score');
  const label = rule('label', 'label');

  test('reads a score at a nested path and a label of any scalar JSON type as its string form', () => {
    expect(readPrediction('{"predictions":[{"score":0.93}]}', score)).toBe(0.93);
    expect(readPrediction('{"label":"fraud"}', label)).toBe('fraud');
    expect(readPrediction('{"label":3}', label)).toBe('3');
    expect(readPrediction('{"label":3.0}', label)).toBe('3');
    expect(readPrediction('{"label":false}', label)).toBe('false');
  });

  test('gives null for an answer that is not JSON, or lacks the field, or has the wrong type there', () => {
    expect(readPrediction('<html>502 Bad Gateway</html>', score)).toBeNull();
    expect(readPrediction('', label)).toBeNull();
    expect(readPrediction('{"predictions":[]}', score)).toBeNull();
    expect(readPrediction('{"predictions":{"0":{"score":0.5}}}', score)).toBe(0.5);
    expect(readPrediction('{"predictions":"none"}', score)).toBeNull();
    expect(readPrediction('{"predictions":[{"score":"0.93"}]}', score)).toBeNull();
    expect(readPrediction('{"predictions":[{"score":null}]}', score)).toBeNull();
    expect(readPrediction('{"label":{"name":"fraud"}}', label)).toBeNull();
    expect(readPrediction('{"label":null}', label)).toBeNull();
    expect(readPrediction('null', label)).toBeNull();
  });

  test('refuses a non-finite score (JSON.parse turns 1e999 into Infinity)', () => {
    expect(readPrediction('{"predictions":[{"score":1e999}]}', score)).toBeNull();
    expect(readPrediction('{"label":-1e999}', label)).toBeNull();
  });

  test('reads only the answer’s own fields, never the prototype’s', () => {
    expect(readPrediction('{}', rule('constructor', 'label'))).toBeNull();
    expect(readPrediction('{"a":{}}', rule('a.__proto__', 'label'))).toBeNull();
  });

  test('builds a rule only from a valid field path', () => {
    expect(predictionRule('predictions[0].score', 'score')).toEqual({ path: ['predictions', 0, 'score'], field: 'predictions[0].score', kind: 'score' });
    expect(predictionRule('a..b', 'label')).toBeNull();
    expect(predictionRule('', 'label')).toBeNull();
  });
});
