import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../src/app/logger.js';
import { CONTROL_RULES } from '../../src/core/control-rules.js';
import { ADMIN_CONFIG, READ_TOKEN, START_MS, startAdmin, type AdminFixture } from '../helpers/admin-fixture.js';
import { PACKAGE_VERSION } from '../helpers/package-version.js';

const FRAUD = '/api/v1/services/fraud-scorer';
let fx: AdminFixture;

beforeEach(async () => {
  fx = await startAdmin();
});
afterEach(async () => {
  await fx.close();
});

function expectProblem(res: { status: number; headers: Headers; body: { code: string; status: number; type: string; title: string; detail: string } }, status: number, code: string): void {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status, code, type: `https://switchyard.dev/errors/${code}` });
  expect(typeof res.body.title).toBe('string');
  expect(typeof res.body.detail).toBe('string');
}

describe('authentication and roles', () => {
  it('refuses a call without a token with 401 and a Bearer challenge', async () => {
    const res = await fx.call('GET', '/api/v1/services', { token: null });
    expectProblem(res, 401, 'SY_ERR_UNAUTHENTICATED');
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
  });

  it('refuses an unknown token and a non-Bearer scheme with 401', async () => {
    const wrong = await fx.call('GET', '/api/v1/services', { token: 'not-a-configured-token-at-all' });
    expectProblem(wrong, 401, 'SY_ERR_UNAUTHENTICATED');
    expect(wrong.headers.get('www-authenticate')).toContain('invalid_token');
    const basic = await fx.call('GET', '/api/v1/services', { headers: { authorization: 'Basic YWxpY2U6c2VjcmV0' } });
    expectProblem(basic, 401, 'SY_ERR_UNAUTHENTICATED');
  });

  it('lets a read token read but refuses its writes with 403, applying nothing', async () => {
    expect((await fx.call('GET', FRAUD, { token: READ_TOKEN })).status).toBe(200);
    const res = await fx.call('POST', `${FRAUD}/rollout`, { token: READ_TOKEN, body: { candidate: 'v2' } });
    expectProblem(res, 403, 'SY_ERR_FORBIDDEN');
    expect(res.body.detail).toContain('reader');
    const put = await fx.call('PUT', `${FRAUD}/overrides/u1`, { token: READ_TOKEN, body: { version: 'v2', reason: 'x' } });
    expectProblem(put, 403, 'SY_ERR_FORBIDDEN');
    expect((await fx.commands.state('fraud-scorer')).revision).toBe(1);
  });
});

describe('health', () => {
  it('answers /healthz and /readyz without a token', async () => {
    const live = await fx.call('GET', '/healthz', { token: null });
    expect(live).toMatchObject({ status: 200, body: { status: 'ok' } });
    const ready = await fx.call('GET', '/readyz', { token: null });
    expect(ready).toMatchObject({ status: 200, body: { ready: true, store: 'up' } });
  });

  it('names on /healthz the release that answers: the version in package.json', async () => {
    const live = await fx.call('GET', '/healthz', { token: null });
    expect(live.body).toEqual({ status: 'ok', version: PACKAGE_VERSION });
  });

  it('stays ready while the store is unreachable, routing on what it knew, and says so in /readyz', async () => {
    fx.store.down = true;
    const res = await fx.call('GET', '/readyz', { token: null });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ready: true, store: 'down', warnings: [expect.stringMatching(/^store unreachable \(.+\); routing on the last known state$/)] });
  });
});

describe('reading services', () => {
  it('lists every configured service with its state in API units', async () => {
    const res = await fx.call('GET', '/api/v1/services');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body.services.map((s: { service: string }) => s.service)).toEqual(['fraud-scorer', 'ranker']);
    expect(res.body.services[0]).toMatchObject({
      service: 'fraud-scorer',
      stable: 'v1',
      candidate: null,
      previous: null,
      strategy: 'canary',
      weight: 0,
      weightBp: 0,
      phase: 'stable',
      step: 0,
      steps: [
        { weight: 5, bakeMs: 60_000 },
        { weight: 25, bakeMs: 120_000 },
        { weight: 100, bakeMs: 60_000 },
      ],
      manual: false,
      revision: 1,
      updatedAt: new Date(START_MS).toISOString(),
      startedAt: null,
      reason: null,
      lastVerdict: null,
      stale: false,
    });
  });

  it('answers one service with its revision as ETag', async () => {
    const res = await fx.call('GET', FRAUD);
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe('"1"');
    expect(res.body).toMatchObject({ service: 'fraud-scorer', revision: 1 });
  });

  it('answers 404 naming the configured services for an unknown service, on every route', async () => {
    for (const [method, path] of [
      ['GET', '/api/v1/services/nope'],
      ['POST', '/api/v1/services/nope/pause'],
      ['GET', '/api/v1/services/nope/assignment?key=u1'],
      ['GET', '/api/v1/services/nope/overrides'],
      ['DELETE', '/api/v1/services/nope/overrides/u1'],
      ['GET', '/api/v1/audit?service=nope'],
    ] as const) {
      const res = await fx.call(method, path);
      expectProblem(res, 404, 'SY_ERR_UNKNOWN_SERVICE');
      expect(res.body.detail).toContain('fraud-scorer, ranker');
    }
  });

  it('falls back to the last known state, marked stale, when the store is unreachable; writes get 503', async () => {
    await fx.call('POST', `${FRAUD}/rollout`, { body: { candidate: 'v2' } });
    fx.store.down = true;
    const res = await fx.call('GET', FRAUD);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ candidate: 'v2', weight: 5, revision: 2, stale: true });
    expect(res.body.staleReason).toContain('ECONNREFUSED');
    expect(res.headers.get('etag')).toBeNull();
    const list = await fx.call('GET', '/api/v1/services');
    expect(list.body.services.every((s: { stale: boolean }) => s.stale)).toBe(true);
    const write = await fx.call('POST', `${FRAUD}/pause`);
    expectProblem(write, 503, 'SY_ERR_STORE_UNAVAILABLE');
    expect(write.headers.get('retry-after')).toBe('5');
  });
});

describe('rollout commands', () => {
  it('runs a full canary: start, weight 25, pause, resume, promote, switch back', async () => {
    const start = await fx.call('POST', `${FRAUD}/rollout`, { body: { candidate: 'v2', reason: 'new model' } });
    expect(start.status).toBe(200);
    expect(start.headers.get('etag')).toBe('"2"');
    expect(start.body).toMatchObject({ candidate: 'v2', phase: 'progressing', weight: 5, step: 0, manual: false, reason: 'new model', revision: 2 });
    expect(start.body.startedAt).toBe(new Date(START_MS).toISOString());
    fx.clock.advance(1_000);
    const weight = await fx.call('POST', `${FRAUD}/weight`, { body: { weight: 25 } });
    expect(weight.body).toMatchObject({ weight: 25, weightBp: 2500, revision: 3 });
    expect(weight.body.updatedAt).toBe(new Date(START_MS + 1_000).toISOString());
    expect((await fx.call('POST', `${FRAUD}/pause`, { body: { reason: 'looking at p99' } })).body).toMatchObject({ phase: 'paused', revision: 4 });
    expect((await fx.call('POST', `${FRAUD}/resume`)).body).toMatchObject({ phase: 'progressing', revision: 5 });
    const promote = await fx.call('POST', `${FRAUD}/promote`, { body: {} });
    expect(promote.body).toMatchObject({ phase: 'promoted', stable: 'v2', previous: 'v1', candidate: null, weight: 0, revision: 6 });
    const back = await fx.call('POST', `${FRAUD}/switch`, { body: { reason: 'v2 misbehaves' } });
    expect(back.headers.get('etag')).toBe('"7"');
    expect(back.body).toMatchObject({ phase: 'stable', stable: 'v1', previous: 'v2', revision: 7 });
  });

  it('rolls back at once and can start the same candidate again', async () => {
    await fx.call('POST', `${FRAUD}/rollout`, { body: { candidate: 'v2' } });
    await fx.call('POST', `${FRAUD}/weight`, { body: { weight: 50 } });
    const rollback = await fx.call('POST', `${FRAUD}/rollback`, { body: { reason: 'error rate doubled' } });
    expect(rollback.body).toMatchObject({ phase: 'rolled_back', weight: 0, stable: 'v1', candidate: 'v2', reason: 'error rate doubled' });
    const again = await fx.call('POST', `${FRAUD}/rollout`, { body: { candidate: 'v2', reason: 'retry with the fix' } });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ phase: 'progressing', candidate: 'v2', weight: 5, step: 0 });
  });

  it('starts with the strategy, steps and salt given in the command', async () => {
    const body = { candidate: 'v3', steps: [{ weight: 1.5, bake: '30s' }, { weight: 10 }], salt: 'exp-42' };
    const res = await fx.call('POST', `${FRAUD}/rollout`, { body });
    expect(res.body).toMatchObject({ weight: 1.5, weightBp: 150, salt: 'exp-42', steps: [{ weight: 1.5, bakeMs: 30_000 }, { weight: 10, bakeMs: 60_000 }] });
  });

  it('runs blue-green: start at 0 %, switch to 100 %, promote', async () => {
    const path = '/api/v1/services/ranker';
    expect((await fx.call('POST', `${path}/rollout`, { body: { candidate: 'green' } })).body).toMatchObject({ strategy: 'blue-green', weight: 0 });
    expect((await fx.call('POST', `${path}/switch`)).body).toMatchObject({ weight: 100, phase: 'progressing' });
    expect((await fx.call('POST', `${path}/promote`)).body).toMatchObject({ stable: 'green', previous: 'blue', phase: 'promoted' });
  });

  it('refuses an illegal transition with 409 and the phase', async () => {
    const res = await fx.call('POST', `${FRAUD}/pause`);
    expectProblem(res, 409, 'SY_ERR_ILLEGAL_TRANSITION');
    expect(res.body.detail).toContain('fraud-scorer is stable');
    expect(res.body.phase).toBe('stable');
    expectProblem(await fx.call('POST', `${FRAUD}/weight`, { body: { weight: 10 } }), 409, 'SY_ERR_ILLEGAL_TRANSITION');
  });

  it('honours If-Match: the current revision (plain or quoted) applies, a stale one is 409', async () => {
    const ok = await fx.call('POST', `${FRAUD}/rollout`, { body: { candidate: 'v2' }, headers: { 'if-match': '1' } });
    expect(ok.status).toBe(200);
    const quoted = await fx.call('POST', `${FRAUD}/weight`, { body: { weight: 10 }, headers: { 'if-match': '"2"' } });
    expect(quoted.body.revision).toBe(3);
    const stale = await fx.call('POST', `${FRAUD}/weight`, { body: { weight: 20 }, headers: { 'if-match': '"2"' } });
    expectProblem(stale, 409, 'SY_ERR_STALE_REVISION');
    expect(stale.body).toMatchObject({ expected: 2, actual: 3 });
    expect((await fx.call('POST', `${FRAUD}/pause`, { headers: { 'if-match': '*' } })).status).toBe(200);
    expect((await fx.commands.state('fraud-scorer')).weightBp).toBe(1000);
  });

  it('refuses a malformed If-Match with 400', async () => {
    const res = await fx.call('POST', `${FRAUD}/rollout`, { body: { candidate: 'v2' }, headers: { 'if-match': 'W/"abc"' } });
    expectProblem(res, 400, 'SY_ERR_VALIDATION');
    expect(res.body.detail).toMatch(/^If-Match: /);
  });

  it('logs every applied command with its actor', async () => {
    const lines: Array<{ obj: Record<string, unknown>; msg: string }> = [];
    const log: Logger = { info: (obj, msg) => lines.push({ obj: obj as Record<string, unknown>, msg }), warn: () => undefined, error: () => undefined };
    const own = await startAdmin({ log });
    try {
      await own.call('POST', `${FRAUD}/rollout`, { body: { candidate: 'v2', reason: 'go' } });
      expect(lines).toContainEqual({ obj: expect.objectContaining({ actor: 'alice', action: 'start', service: 'fraud-scorer', revision: 2 }), msg: 'admin command applied' });
    } finally {
      await own.close();
    }
  });
});

/** ADMIN_CONFIG plus a canary service without steps: a start there is a manual canary. */
const MANUAL_CONFIG = `${ADMIN_CONFIG}
  recommender:
    match: { pathPrefix: /recommend }
    versions:
      r1: { targets: ["http://127.0.0.1:9021"] }
      r2: { targets: ["http://127.0.0.1:9022"] }
    rollout: { stable: r1, strategy: canary }
`;

async function lastAudit(f: AdminFixture, service: string): Promise<{ action: string; rule: string | null; verdict: unknown }> {
  return (await f.call('GET', `/api/v1/audit?service=${service}&limit=1`)).body.entries[0];
}

describe('manual canaries', () => {
  it('starts a manual canary at the weight given, with no steps, and audits the rule it applied', async () => {
    const res = await fx.call('POST', `${FRAUD}/rollout`, { body: { candidate: 'v2', weight: 2.5, reason: 'watch by hand' } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ candidate: 'v2', phase: 'progressing', weight: 2.5, weightBp: 250, steps: [], manual: true, revision: 2 });
    expect(await lastAudit(fx, 'fraud-scorer')).toMatchObject({ action: 'start', rule: CONTROL_RULES.manualCanary, verdict: null });
    // Paused, it is still a manual canary; promoted, no canary is in progress.
    expect((await fx.call('POST', `${FRAUD}/pause`)).body).toMatchObject({ phase: 'paused', manual: true });
    expect((await fx.call('POST', `${FRAUD}/promote`)).body).toMatchObject({ phase: 'promoted', manual: false });
  });

  it('starts a manual canary at weight 0 when neither the command nor the config has steps', async () => {
    const own = await startAdmin({ config: MANUAL_CONFIG });
    try {
      const res = await own.call('POST', '/api/v1/services/recommender/rollout', { body: { candidate: 'r2' } });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ candidate: 'r2', phase: 'progressing', weight: 0, steps: [], manual: true });
      expect(await lastAudit(own, 'recommender')).toMatchObject({ action: 'start', rule: CONTROL_RULES.manualCanary });
      const weighted = await own.call('POST', '/api/v1/services/recommender/weight', { body: { weight: 10 } });
      expect(weighted.body).toMatchObject({ weight: 10, manual: true, step: 0 });
    } finally {
      await own.close();
    }
  });

  it('refuses a weight together with steps with 400 naming both, applying nothing', async () => {
    const res = await fx.call('POST', `${FRAUD}/rollout`, { body: { candidate: 'v2', weight: 5, steps: [{ weight: 10, bake: '1m' }] } });
    expectProblem(res, 400, 'SY_ERR_VALIDATION');
    expect(res.body.detail).toContain('cannot start a rollout: service fraud-scorer');
    expect(res.body.detail).toMatch(/steps.*weight/);
    expect((await fx.commands.state('fraud-scorer')).revision).toBe(1);
  });

  it('refuses a weight for blue-green with 400, configured or asked for, applying nothing', async () => {
    const ranker = await fx.call('POST', '/api/v1/services/ranker/rollout', { body: { candidate: 'green', weight: 50 } });
    expectProblem(ranker, 400, 'SY_ERR_VALIDATION');
    expect(ranker.body.detail).toMatch(/weight for a blue-green rollout/);
    const asked = await fx.call('POST', `${FRAUD}/rollout`, { body: { candidate: 'v2', strategy: 'blue-green', weight: 50 } });
    expectProblem(asked, 400, 'SY_ERR_VALIDATION');
    expect(asked.body.detail).toMatch(/weight for a blue-green rollout/);
    expect((await fx.commands.state('ranker')).revision).toBe(1);
    expect((await fx.commands.state('fraud-scorer')).revision).toBe(1);
  });
});

describe('unexpected failures', () => {
  it('answers 500 problem JSON without leaking the stack, and logs it', async () => {
    const errors: object[] = [];
    const log: Logger = { info: () => undefined, warn: () => undefined, error: (obj) => errors.push(obj) };
    const own = await startAdmin({
      log,
      patch: (deps) => ({ ...deps, audit: () => Promise.reject(new Error('secret internals at /srv/switchyard/x.ts:12')) }),
    });
    try {
      const res = await own.call('GET', '/api/v1/audit');
      expectProblem(res, 500, 'SY_ERR_INTERNAL');
      expect(JSON.stringify(res.body)).not.toContain('secret');
      expect(res.body.detail).toContain(res.body.errorId);
      expect(errors).toHaveLength(1);
      expect(JSON.stringify(errors[0])).toContain('secret internals');
    } finally {
      await own.close();
    }
  });
});
