import { describe, expect, test } from 'vitest';
import { isSwitchyardError } from '../../src/core/errors.js';
import { auditQuery, parseInput, startBody, weightBody } from '../../src/http/admin/schemas.js';

/** The field problems a 400 lists for this input. */
function errorsOf(run: () => unknown): unknown {
  try {
    run();
  } catch (err) {
    if (isSwitchyardError(err)) return err.details?.['errors'];
    throw err;
  }
  throw new Error('expected the input to be refused');
}

describe('unknown fields in admin requests', () => {
  test('a misspelt body field names the field it is closest to', () => {
    expect(errorsOf(() => parseInput(weightBody, { weight: 10, reson: 'canary looks fine' }, 'body'))).toEqual([
      { field: 'reson', message: 'unknown field; did you mean "reason"?' },
    ]);
  });

  test('a misspelt field in a step names the step field it is closest to', () => {
    expect(errorsOf(() => parseInput(startBody, { candidate: 'v2', steps: [{ weight: 5 }, { wieght: 50, bake: '1m' }] }, 'body'))).toEqual([
      { field: 'steps[1].wieght', message: 'unknown field; did you mean "weight"?' },
    ]);
  });

  test('a misspelt query parameter names the parameter it is closest to', () => {
    expect(errorsOf(() => parseInput(auditQuery, { limt: '5' }, 'query'))).toEqual([{ field: 'limt', message: 'unknown query parameter; did you mean "limit"?' }]);
  });

  test('a field close to no known one gets no suggestion, in the body and in a step', () => {
    expect(errorsOf(() => parseInput(weightBody, { weight: 10, dryRun: true }, 'body'))).toEqual([{ field: 'dryRun', message: 'unknown field' }]);
    expect(errorsOf(() => parseInput(startBody, { candidate: 'v2', steps: [{ weight: 5, pause: true }] }, 'body'))).toEqual([
      { field: 'steps[0].pause', message: 'unknown field' },
    ]);
  });
});

describe('start body', () => {
  test('parses steps in API units into the steps a rollout runs', () => {
    const body = parseInput(startBody, { candidate: 'v2', steps: [{ shadow: 10, bake: '5m' }, { weight: 5 }, { weight: 100, bake: '30s' }] }, 'body');
    expect(body.steps).toEqual([
      { weightBp: 0, bakeMs: 300_000, shadowBp: 1_000 },
      { weightBp: 500, bakeMs: 60_000 },
      { weightBp: 10_000, bakeMs: 30_000 },
    ]);
    expect(parseInput(startBody, { candidate: 'v2' }, 'body')).toEqual({ candidate: 'v2' });
  });
});
