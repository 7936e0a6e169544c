import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { READ_TOKEN, START_MS, startAdmin, type AdminFixture } from '../helpers/admin-fixture.js';

const FRAUD = '/api/v1/services/fraud-scorer';
let fx: AdminFixture;

interface Entry {
  id: string;
  service: string;
  action: string;
  actor: string;
}

beforeEach(async () => {
  fx = await startAdmin();
  // Seeding wrote one `init` entry per service; add six more, one second apart.
  const writes: Array<[string, string, object | undefined]> = [
    ['POST', `${FRAUD}/rollout`, { candidate: 'v2', reason: 'release 2' }],
    ['POST', `${FRAUD}/weight`, { weight: 25 }],
    ['PUT', `${FRAUD}/overrides/u1`, { version: 'v2', reason: 'beta' }],
    ['POST', '/api/v1/services/ranker/rollout', { candidate: 'green' }],
    ['POST', `${FRAUD}/rollback`, { reason: 'p99 up 40 %' }],
    ['DELETE', `${FRAUD}/overrides/u1`, undefined],
  ];
  for (const [method, path, body] of writes) {
    fx.clock.advance(1_000);
    expect((await fx.call(method, path, body === undefined ? {} : { body })).status).toBe(200);
  }
});
afterEach(async () => {
  await fx.close();
});

describe('audit log', () => {
  it('lists every accepted change newest first, with actor, reason and presented before/after', async () => {
    const res = await fx.call('GET', '/api/v1/audit', { token: READ_TOKEN });
    expect(res.status).toBe(200);
    const actions = res.body.entries.map((e: Entry) => `${e.service}:${e.action}`);
    expect(actions).toEqual([
      'fraud-scorer:override-delete',
      'fraud-scorer:rollback',
      'ranker:start',
      'fraud-scorer:override-put',
      'fraud-scorer:set-weight',
      'fraud-scorer:start',
      'ranker:init',
      'fraud-scorer:init',
    ]);
    expect(res.body.next).toBeNull();
    const rollback = res.body.entries[1];
    expect(rollback).toMatchObject({
      actor: 'alice',
      reason: 'p99 up 40 %',
      at: new Date(START_MS + 5_000).toISOString(),
      before: { phase: 'progressing', weight: 25 },
      after: { phase: 'rolled_back', weight: 0 },
    });
    expect(res.body.entries[0]).toMatchObject({ before: { key: 'u1', version: 'v2' }, after: null });
    expect(res.body.entries.at(-1)).toMatchObject({ actor: 'config', before: null, after: { revision: 1 } });
  });

  it('pages with limit and before, without gaps or repeats', async () => {
    const all = (await fx.call('GET', '/api/v1/audit')).body.entries.map((e: Entry) => e.id);
    const seen: string[] = [];
    let before: string | null = null;
    let pages = 0;
    do {
      const query: string = before === null ? '?limit=3' : `?limit=3&before=${before}`;
      const page = await fx.call('GET', `/api/v1/audit${query}`);
      expect(page.body.entries.length).toBeLessThanOrEqual(3);
      seen.push(...page.body.entries.map((e: Entry) => e.id));
      before = page.body.next;
      if (before !== null) expect(before).toBe(page.body.entries.at(-1).id);
      pages++;
    } while (before !== null);
    expect(pages).toBe(3);
    expect(seen).toEqual(all);
  });

  it('filters by service and defaults the limit to 50', async () => {
    const res = await fx.call('GET', '/api/v1/audit?service=ranker');
    expect(res.body.entries.map((e: Entry) => e.action)).toEqual(['start', 'init']);
    for (let i = 0; i < 60; i++) await fx.call('POST', '/api/v1/services/ranker/switch', { body: { reason: `flip ${i}` } });
    const page = await fx.call('GET', '/api/v1/audit?service=ranker');
    expect(page.body.entries).toHaveLength(50);
    expect(page.body.next).toBe(page.body.entries[49].id);
  });

  it('answers 404 for an unknown service', async () => {
    const res = await fx.call('GET', '/api/v1/audit?service=nope');
    expect(res).toMatchObject({ status: 404, body: { code: 'SY_ERR_UNKNOWN_SERVICE' } });
  });
});
