import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CONTROL_RULES } from '../../src/core/control-rules.js';
import type { Verdict } from '../../src/core/rollout-state.js';
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

  it('shows no rule and no verdict on entries that applied none', async () => {
    const entries = (await fx.call('GET', '/api/v1/audit')).body.entries as Array<{ action: string; rule: unknown; verdict: unknown }>;
    for (const entry of entries.filter((e) => e.action !== 'set-weight')) expect(entry, entry.action).toMatchObject({ rule: null, verdict: null });
    expect(entries.find((e) => e.action === 'set-weight')).toMatchObject({ rule: CONTROL_RULES.operatorWeight, verdict: null });
  });

  it('names the rule of a weight-0 pause: the canary is paused and the entry says why', async () => {
    expect((await fx.call('POST', `${FRAUD}/rollout`, { body: { candidate: 'v3' } })).body.phase).toBe('progressing');
    const paused = await fx.call('POST', `${FRAUD}/weight`, { body: { weight: 0, reason: 'stop traffic to v3' } });
    expect(paused.body).toMatchObject({ phase: 'paused', weight: 0 });
    const [entry] = (await fx.call('GET', `/api/v1/audit?service=fraud-scorer&limit=1`)).body.entries;
    expect(entry).toMatchObject({ action: 'set-weight', reason: 'stop traffic to v3', rule: CONTROL_RULES.weightZeroHolds, before: { phase: 'progressing' }, after: { phase: 'paused' } });
  });

  it('keeps the verdict behind a change the analysis made, presented like lastVerdict', async () => {
    await fx.call('POST', `${FRAUD}/rollout`, { body: { candidate: 'v3' } });
    const startedAt = (await fx.commands.state('fraud-scorer')).startedAt;
    const at = START_MS + 60_000;
    const verdict: Verdict = {
      result: 'fail',
      reason: 'error evidence 250 crossed 200',
      at,
      hold: false,
      checks: [{ name: 'error evidence', value: 250, threshold: 200, result: 'fail', detail: '12 failing keys', meaning: 'the candidate fails more often than stable' }],
      figures: { buckets: 12 },
      startedAt,
      held: { kind: 'sample-ratio', reason: 'candidate share 9% vs expected 5%', since: at - 5_000 },
    };
    await fx.commands.run('fraud-scorer', { type: 'rollback' }, { actor: 'analysis', reason: verdict.reason, verdict, rule: CONTROL_RULES.failRollsBack });
    const [entry] = (await fx.call('GET', `/api/v1/audit?service=fraud-scorer&limit=1`)).body.entries;
    expect(entry).toMatchObject({ action: 'rollback', actor: 'analysis', rule: CONTROL_RULES.failRollsBack });
    expect(entry.verdict).toEqual({
      result: 'fail',
      reason: 'error evidence 250 crossed 200',
      at: new Date(at).toISOString(),
      startedAt: new Date(startedAt ?? 0).toISOString(),
      hold: false,
      held: { kind: 'sample-ratio', reason: 'candidate share 9% vs expected 5%', since: new Date(at - 5_000).toISOString() },
      checks: verdict.checks,
      figures: { buckets: 12 },
      shadow: null,
    });
  });

  it('answers 404 for an unknown service', async () => {
    const res = await fx.call('GET', '/api/v1/audit?service=nope');
    expect(res).toMatchObject({ status: 404, body: { code: 'SY_ERR_UNKNOWN_SERVICE' } });
  });
});
