import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bucketOf } from '../../src/core/assignment.js';
import { READ_TOKEN, START_MS, startAdmin, type AdminFixture } from '../helpers/admin-fixture.js';

const FRAUD = '/api/v1/services/fraud-scorer';
const HOUR_MS = 3_600_000;
let fx: AdminFixture;

beforeEach(async () => {
  fx = await startAdmin();
});
afterEach(async () => {
  await fx.close();
});

/** The first key whose bucket lands on the wanted side of `weightBp` for `salt`. */
function keyWithBucket(salt: string, below: boolean, weightBp: number): string {
  for (let i = 0; ; i++) {
    const key = `user-${i}`;
    if (bucketOf(salt, key) < weightBp === below) return key;
  }
}

describe('overrides', () => {
  it('pins a key with a default TTL of 7 days and lists how long it has left', async () => {
    const put = await fx.call('PUT', `${FRAUD}/overrides/u1`, { body: { version: 'v2', reason: 'beta tester' } });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({
      service: 'fraud-scorer',
      key: 'u1',
      version: 'v2',
      reason: 'beta tester',
      author: 'alice',
      createdAt: new Date(START_MS).toISOString(),
      expiresAt: new Date(START_MS + 168 * HOUR_MS).toISOString(),
      expiresInMs: 168 * HOUR_MS,
    });
    fx.clock.advance(HOUR_MS);
    const list = await fx.call('GET', `${FRAUD}/overrides`, { token: READ_TOKEN });
    expect(list.status).toBe(200);
    expect(list.body.overrides).toHaveLength(1);
    expect(list.body.overrides[0]).toMatchObject({ key: 'u1', expiresInMs: 167 * HOUR_MS });
  });

  it('drops an override once its TTL has passed', async () => {
    await fx.call('PUT', `${FRAUD}/overrides/u1`, { body: { version: 'v3', reason: 'debug', ttl: '30m' } });
    fx.clock.advance(30 * 60_000);
    expect((await fx.call('GET', `${FRAUD}/overrides`)).body.overrides).toEqual([]);
  });

  it('keeps URL-encoded characters of a key', async () => {
    const key = 'team/a b@ex.com?x=1';
    const put = await fx.call('PUT', `${FRAUD}/overrides/${encodeURIComponent(key)}`, { body: { version: 'v2', reason: 'r' } });
    expect(put.body.key).toBe(key);
    const explained = await fx.call('GET', `${FRAUD}/assignment?key=${encodeURIComponent(key)}`);
    expect(explained.body).toMatchObject({ version: 'v2', reason: 'override' });
    const removed = await fx.call('DELETE', `${FRAUD}/overrides/${encodeURIComponent(key)}`);
    expect(removed).toMatchObject({ status: 200, body: { removed: { key, version: 'v2' } } });
  });

  it('refuses an override without a reason, with an unknown version or a TTL over 30 days', async () => {
    const path = `${FRAUD}/overrides/u1`;
    expect((await fx.call('PUT', path, { body: { version: 'v2' } })).body.detail).toBe('reason: required');
    const unknown = await fx.call('PUT', path, { body: { version: 'v9', reason: 'r' } });
    expect(unknown).toMatchObject({ status: 400, body: { code: 'SY_ERR_UNKNOWN_VERSION' } });
    expect(unknown.body.detail).toContain('v1, v2, v3');
    const long = await fx.call('PUT', path, { body: { version: 'v2', reason: 'r', ttl: '721h' } });
    expect(long).toMatchObject({ status: 400, body: { detail: expect.stringContaining('ttl: at most 30d') } });
    expect((await fx.call('PUT', path, { body: { version: 'v2', reason: 'r', ttl: 'forever' } })).body.detail).toMatch(/^ttl: must be a duration/);
    expect((await fx.call('PUT', path, { body: { version: 'v2', reason: 'r', ttl: '0s' } })).body.detail).toBe('ttl: must be longer than 0');
    expect((await fx.call('PUT', `${FRAUD}/overrides/${'k'.repeat(257)}`, { body: { version: 'v2', reason: 'r' } })).body.detail).toBe('key: at most 256 characters');
    expect((await fx.call('GET', `${FRAUD}/overrides`)).body.overrides).toEqual([]);
  });

  it('unpins a key with DELETE, and answers 404 when there is nothing to unpin', async () => {
    await fx.call('PUT', `${FRAUD}/overrides/u1`, { body: { version: 'v2', reason: 'r' } });
    expect((await fx.call('DELETE', `${FRAUD}/overrides/u1`, { token: READ_TOKEN })).status).toBe(403);
    const removed = await fx.call('DELETE', `${FRAUD}/overrides/u1`);
    expect(removed.body.removed).toMatchObject({ key: 'u1', version: 'v2', author: 'alice' });
    const again = await fx.call('DELETE', `${FRAUD}/overrides/u1`);
    expect(again).toMatchObject({ status: 404, body: { code: 'SY_ERR_NOT_FOUND' } });
    expect(again.body.detail).toContain('no override for key u1');
  });
});

describe('assignment explains which version a key gets and why', () => {
  it('sends everyone to stable while there is no candidate', async () => {
    const res = await fx.call('GET', `${FRAUD}/assignment?key=u1`, { token: READ_TOKEN });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ service: 'fraud-scorer', key: 'u1', version: 'v1', reason: 'stable', bucket: null, stable: 'v1', candidate: null, override: null });
  });

  it('explains the bucket against the weight on both sides', async () => {
    await fx.call('POST', `${FRAUD}/rollout`, { body: { candidate: 'v2', salt: 's1' } });
    await fx.call('POST', `${FRAUD}/weight`, { body: { weight: 25 } });
    const inside = keyWithBucket('s1', true, 2500);
    const outside = keyWithBucket('s1', false, 2500);
    const a = await fx.call('GET', `${FRAUD}/assignment?key=${inside}`);
    expect(a.body).toMatchObject({ version: 'v2', reason: 'bucket', bucket: bucketOf('s1', inside), weight: 25, salt: 's1', candidate: 'v2' });
    expect(a.body.explanation).toContain('so candidate v2');
    const b = await fx.call('GET', `${FRAUD}/assignment?key=${outside}`);
    expect(b.body).toMatchObject({ version: 'v1', reason: 'bucket', bucket: bucketOf('s1', outside) });
    expect(b.body.explanation).toContain('so stable v1');
  });

  it('puts an override ahead of the bucket and shows it', async () => {
    await fx.call('POST', `${FRAUD}/rollout`, { body: { candidate: 'v2', salt: 's1' } });
    const key = keyWithBucket('s1', false, 500);
    await fx.call('PUT', `${FRAUD}/overrides/${key}`, { body: { version: 'v3', reason: 'support ticket 812' } });
    const res = await fx.call('GET', `${FRAUD}/assignment?key=${key}`);
    expect(res.body).toMatchObject({ version: 'v3', reason: 'override', bucket: bucketOf('s1', key), override: { version: 'v3', reason: 'support ticket 812' } });
  });

  it('puts an explicit version request ahead of the override', async () => {
    await fx.call('PUT', `${FRAUD}/overrides/u1`, { body: { version: 'v3', reason: 'r' } });
    const res = await fx.call('GET', `${FRAUD}/assignment?key=u1&version=v2`);
    expect(res.body).toMatchObject({ version: 'v2', reason: 'header', requested: 'v2', override: { version: 'v3' } });
    const unknown = await fx.call('GET', `${FRAUD}/assignment?key=u1&version=v9`);
    expect(unknown).toMatchObject({ status: 400, body: { code: 'SY_ERR_UNKNOWN_VERSION', versions: ['v1', 'v2', 'v3'] } });
    expect(unknown.body.detail).toContain('versions: v1, v2, v3');
  });
});
