import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAdmin, type AdminFixture, type CallResult } from '../helpers/admin-fixture.js';

const FRAUD = '/api/v1/services/fraud-scorer';
let fx: AdminFixture;

beforeEach(async () => {
  fx = await startAdmin();
  await fx.call('POST', `${FRAUD}/rollout`, { body: { candidate: 'v2' } });
});
afterEach(async () => {
  await fx.close();
});

function expect400(res: CallResult, detail: string | RegExp): void {
  expect(res.status).toBe(400);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body.code).toMatch(/^SY_ERR_(VALIDATION|UNKNOWN_VERSION)$/);
  if (typeof detail === 'string') expect(res.body.detail).toContain(detail);
  else expect(res.body.detail).toMatch(detail);
}

async function revision(): Promise<number> {
  return (await fx.commands.state('fraud-scorer')).revision;
}

describe('bad input is refused with 400 naming the field, and nothing is applied', () => {
  it('refuses a weight with three decimals', async () => {
    const res = await fx.call('POST', `${FRAUD}/weight`, { body: { weight: 12.345 } });
    expect400(res, 'weight: must be a percent 0..100 with at most two decimals');
    expect(res.body.errors).toEqual([{ field: 'weight', message: 'must be a percent 0..100 with at most two decimals' }]);
  });

  it('refuses weights outside 0..100, as text, or missing', async () => {
    expect400(await fx.call('POST', `${FRAUD}/weight`, { body: { weight: 101 } }), 'weight: must be a percent');
    expect400(await fx.call('POST', `${FRAUD}/weight`, { body: { weight: -1 } }), 'weight: must be a percent');
    expect400(await fx.call('POST', `${FRAUD}/weight`, { body: { weight: '25' } }), 'weight: must be a percent');
    expect400(await fx.call('POST', `${FRAUD}/weight`, { body: {} }), 'weight: required');
    expect(await revision()).toBe(2);
  });

  it('accepts two decimals exactly', async () => {
    const res = await fx.call('POST', `${FRAUD}/weight`, { body: { weight: 12.34 } });
    expect(res.body).toMatchObject({ weight: 12.34, weightBp: 1234 });
  });

  it('refuses unknown fields, naming each', async () => {
    const res = await fx.call('POST', `${FRAUD}/weight`, { body: { weight: 10, dryRun: true, colour: 'red' } });
    expect400(res, 'dryRun: unknown field; colour: unknown field');
    const reset = await fx.call('POST', `${FRAUD}/rollback`, { body: { reason: 'reset to try a start' } });
    expect(reset.status).toBe(200);
    const step = await fx.call('POST', `${FRAUD}/rollout`, { body: { candidate: 'v2', steps: [{ weight: 5, bake: '1m', pause: true }] } });
    expect400(step, 'steps[0].pause: unknown field');
    expect(await revision()).toBe(3);
  });

  it('refuses malformed JSON, a non-object body and a non-JSON content type', async () => {
    expect400(await fx.call('POST', `${FRAUD}/pause`, { raw: '{"reason": ' }), /^body: malformed JSON/);
    expect400(await fx.call('POST', `${FRAUD}/pause`, { raw: '[1,2]' }), 'body: must be a JSON object');
    expect400(await fx.call('POST', `${FRAUD}/pause`, { raw: 'reason=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 'Content-Type: application/json');
    expect(await revision()).toBe(2);
  });

  it('refuses a body over 64 KiB with 413', async () => {
    const res = await fx.call('POST', `${FRAUD}/pause`, { body: { reason: 'x'.repeat(70 * 1024) } });
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ code: 'SY_ERR_PAYLOAD_TOO_LARGE', limitBytes: 65_536 });
    expect(await revision()).toBe(2);
  });

  it('requires a non-empty reason to roll back', async () => {
    expect400(await fx.call('POST', `${FRAUD}/rollback`), 'reason: required');
    expect400(await fx.call('POST', `${FRAUD}/rollback`, { body: { reason: '   ' } }), 'reason: must not be empty');
    expect400(await fx.call('POST', `${FRAUD}/rollback`, { body: { reason: 42 } }), 'reason: must be a string');
    expect(await revision()).toBe(2);
  });

  it('refuses an unknown candidate version, listing the valid ones', async () => {
    await fx.call('POST', `${FRAUD}/rollback`, { body: { reason: 'reset' } });
    const res = await fx.call('POST', `${FRAUD}/rollout`, { body: { candidate: 'v9' } });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('SY_ERR_UNKNOWN_VERSION');
    expect(res.body.detail).toContain('versions: v1, v2, v3');
    expect400(await fx.call('POST', `${FRAUD}/rollout`, { body: {} }), 'candidate: required');
  });

  it('refuses bad steps and strategies with their paths', async () => {
    await fx.call('POST', `${FRAUD}/rollback`, { body: { reason: 'reset' } });
    const path = `${FRAUD}/rollout`;
    expect400(await fx.call('POST', path, { body: { candidate: 'v2', steps: [{ weight: 20 }, { weight: 10 }] } }), 'steps[1].weight: step weights must not decrease');
    expect400(await fx.call('POST', path, { body: { candidate: 'v2', steps: [{ weight: 5, bake: 'soon' }] } }), 'steps[0].bake: must be a duration');
    expect400(await fx.call('POST', path, { body: { candidate: 'v2', steps: [] } }), 'steps: give at least one step');
    expect400(await fx.call('POST', path, { body: { candidate: 'v2', strategy: 'linear' } }), 'strategy: must be one of canary, blue-green');
    expect(await revision()).toBe(3);
  });

  it('refuses a start weight that is not a percent with two decimals, naming the field', async () => {
    await fx.call('POST', `${FRAUD}/rollback`, { body: { reason: 'reset' } });
    const path = `${FRAUD}/rollout`;
    const message = 'must be a percent 0..100 with at most two decimals';
    for (const weight of [12.345, 101, -1, '5']) {
      const res = await fx.call('POST', path, { body: { candidate: 'v2', weight } });
      expect400(res, `weight: ${message}`);
      expect(res.body.errors).toEqual([{ field: 'weight', message }]);
    }
    expect(await revision()).toBe(3);
  });

  it('refuses bad assignment and audit queries', async () => {
    expect400(await fx.call('GET', `${FRAUD}/assignment`), 'key: required');
    expect400(await fx.call('GET', `${FRAUD}/assignment?key=`), 'key: must not be empty');
    expect400(await fx.call('GET', `${FRAUD}/assignment?key=a&key=b`), 'key: must be given once');
    expect400(await fx.call('GET', `${FRAUD}/assignment?key=a&user=b`), 'user: unknown query parameter');
    for (const limit of ['0', '501', 'ten', '1.5']) {
      expect400(await fx.call('GET', `/api/v1/audit?limit=${limit}`), 'limit: must be a whole number 1..500');
    }
    expect400(await fx.call('GET', '/api/v1/audit?before=yesterday'), 'before: must be an audit entry id');
  });
});

describe('path parameters', () => {
  it('refuses a key with broken percent-encoding with 400', async () => {
    const res = await fx.call('DELETE', `${FRAUD}/overrides/%E0%A4%A`);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'SY_ERR_VALIDATION' });
  });
});

describe('unknown routes', () => {
  it('answers 404 problem JSON for unknown paths, inside and outside /api/v1', async () => {
    for (const path of ['/api/v1/nothing', '/api/v2/services', '/', `${FRAUD}/explode`]) {
      const res = await fx.call('POST', path);
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ code: 'SY_ERR_NOT_FOUND' });
      expect(res.body.detail).toContain(`POST ${path}`);
    }
  });
});
