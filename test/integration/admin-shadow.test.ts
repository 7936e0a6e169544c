import { afterEach, describe, expect, inject, it } from 'vitest';
import type { Gateway } from '../../src/gateway/gateway.js';
import { configYaml, OPERATOR_TOKEN, READ_TOKEN, startTestGateway } from '../helpers/gateway.js';

/** The shadow through the admin API of a real gateway, on the in-memory store and on Redis. */

const SHADOW = '/api/v1/services/fraud-scorer/shadow';
const SERVICE = '/api/v1/services/fraud-scorer';
// Nothing is proxied here, so the targets need not answer.
const VERSIONS = { v1: ['http://127.0.0.1:9'], v2: ['http://127.0.0.1:9'], v3: ['http://127.0.0.1:9'] };

let prefixSeq = 0;
const STORES: ReadonlyArray<readonly [string, () => string]> = [
  ['the in-memory store', () => ''],
  ['Redis', () => `store: { redis: { url: "${inject('redisUrl')}", keyPrefix: "shadow${process.pid}x${++prefixSeq}" } }`],
];

interface Answer {
  readonly status: number;
  readonly etag: string | null;
  readonly body: any;
}

async function call(gateway: Gateway, method: string, path: string, body?: unknown, headers: Record<string, string> = {}, token = OPERATOR_TOKEN): Promise<Answer> {
  const res = await fetch(`${gateway.adminUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, etag: res.headers.get('etag'), body: text === '' ? null : JSON.parse(text) };
}

describe.each(STORES)('shadow admin API on %s', (_name, storeYaml) => {
  let gateway: Gateway;
  const start = async (serviceExtra = '') => {
    gateway = await startTestGateway(configYaml(VERSIONS, storeYaml(), serviceExtra));
    return gateway;
  };

  afterEach(async () => {
    await gateway.close();
  });

  it('PUT sets the shadow and answers the new state with its ETag; GET shows it', async () => {
    const g = await start();
    const set = await call(g, 'PUT', SHADOW, { version: 'v2', percent: 12.5, reason: 'dark launch of the new model' });
    expect(set.status).toBe(200);
    expect(set.etag).toBe('"2"');
    expect(set.body).toMatchObject({ revision: 2, phase: 'stable', weight: 0, reason: 'dark launch of the new model' });
    expect(set.body.shadow).toEqual({ version: 'v2', percent: 12.5, sampleBp: 1_250, salt: 'fraud-scorer:shadow', since: expect.any(String) });
    const read = await call(g, 'GET', SERVICE);
    expect(read.body.shadow).toEqual(set.body.shadow);
  });

  it('a new percent for the same version keeps since; DELETE stops the shadow with an optional reason', async () => {
    const g = await start();
    const first = await call(g, 'PUT', SHADOW, { version: 'v2', percent: 1 });
    const wider = await call(g, 'PUT', SHADOW, { version: 'v2', percent: 50 });
    expect(wider.body.shadow).toMatchObject({ percent: 50, since: first.body.shadow.since });
    const stopped = await call(g, 'DELETE', SHADOW, { reason: 'enough data' });
    expect(stopped).toMatchObject({ status: 200, etag: '"4"', body: { shadow: null, reason: 'enough data', revision: 4 } });
    const bare = await call(g, 'PUT', SHADOW, { version: 'v3', percent: 5 });
    expect(bare.status).toBe(200);
    expect((await call(g, 'DELETE', SHADOW)).body).toMatchObject({ shadow: null, reason: null });
  });

  it('DELETE without a shadow is refused with 404', async () => {
    const g = await start();
    const res = await call(g, 'DELETE', SHADOW);
    expect(res).toMatchObject({ status: 404, body: { code: 'SY_ERR_NOT_FOUND', detail: 'cannot stop the shadow: service fraud-scorer has no shadow' } });
  });

  it('honours If-Match: a stale revision is 409 and nothing changes; the current one applies', async () => {
    const g = await start();
    const stale = await call(g, 'PUT', SHADOW, { version: 'v2', percent: 10 }, { 'if-match': '"7"' });
    expect(stale).toMatchObject({ status: 409, body: { code: 'SY_ERR_STALE_REVISION' } });
    expect((await call(g, 'GET', SERVICE)).body).toMatchObject({ revision: 1, shadow: null });
    const fresh = await call(g, 'PUT', SHADOW, { version: 'v2', percent: 10 }, { 'if-match': '"1"' });
    expect(fresh.status).toBe(200);
    const staleStop = await call(g, 'DELETE', SHADOW, undefined, { 'if-match': '1' });
    expect(staleStop).toMatchObject({ status: 409, body: { code: 'SY_ERR_STALE_REVISION' } });
    expect((await call(g, 'DELETE', SHADOW, undefined, { 'if-match': '2' })).status).toBe(200);
  });

  it('refuses an unknown version naming the valid ones, and stable', async () => {
    const g = await start();
    const unknown = await call(g, 'PUT', SHADOW, { version: 'v9', percent: 10 });
    expect(unknown).toMatchObject({
      status: 400,
      body: { code: 'SY_ERR_UNKNOWN_VERSION', detail: 'cannot set a shadow: service fraud-scorer has no version v9 (versions: v1, v2, v3)' },
    });
    const stable = await call(g, 'PUT', SHADOW, { version: 'v1', percent: 10 });
    expect(stable).toMatchObject({ status: 409, body: { code: 'SY_ERR_SHADOW_CONFLICT' } });
    expect(stable.body.detail).toContain('shadowing stable compares it with itself');
  });

  it('refuses the candidate once it has live traffic', async () => {
    const g = await start();
    expect((await call(g, 'POST', `${SERVICE}/rollout`, { candidate: 'v2' })).status).toBe(200);
    const res = await call(g, 'PUT', SHADOW, { version: 'v2', percent: 10 });
    expect(res).toMatchObject({ status: 409, body: { code: 'SY_ERR_SHADOW_CONFLICT' } });
  });

  it('validates the body field by field', async () => {
    const g = await start();
    const res = await call(g, 'PUT', SHADOW, { version: 'v2', percent: 0, extra: 1 });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('SY_ERR_VALIDATION');
    expect(res.body.errors).toEqual(
      expect.arrayContaining([
        { field: 'percent', message: 'must be a percent more than 0, at most 100, with at most two decimals' },
        { field: 'extra', message: 'unknown field' },
      ]),
    );
    const missing = await call(g, 'PUT', SHADOW, {});
    expect(missing.body.errors).toEqual(expect.arrayContaining([{ field: 'version', message: 'required' }, { field: 'percent', message: 'required' }]));
  });

  it('needs the operator role', async () => {
    const g = await start();
    expect((await call(g, 'PUT', SHADOW, { version: 'v2', percent: 10 }, {}, READ_TOKEN)).status).toBe(403);
    expect((await call(g, 'DELETE', SHADOW, undefined, {}, READ_TOKEN)).status).toBe(403);
  });

  it('writes audit entries with actor, reason, before and after', async () => {
    const g = await start();
    await call(g, 'PUT', SHADOW, { version: 'v2', percent: 10, reason: 'compare v2 in the dark' });
    await call(g, 'DELETE', SHADOW, { reason: 'done' });
    const audit = await call(g, 'GET', '/api/v1/audit?service=fraud-scorer');
    const [stop, set] = audit.body.entries;
    expect(set).toMatchObject({ action: 'shadow', actor: 'ops', reason: 'compare v2 in the dark', before: { shadow: null }, after: { shadow: { version: 'v2', percent: 10 } } });
    expect(stop).toMatchObject({ action: 'shadow-stop', actor: 'ops', reason: 'done', before: { shadow: { version: 'v2' } }, after: { shadow: null } });
  });

  it('starts a rollout with shadow steps: weight 0, the candidate shadowed', async () => {
    const g = await start();
    const steps = [{ shadow: 10, bake: '5m' }, { weight: 5, bake: '5m' }, { weight: 100 }];
    const res = await call(g, 'POST', `${SERVICE}/rollout`, { candidate: 'v2', steps });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ phase: 'progressing', candidate: 'v2', weight: 0, step: 0, shadow: { version: 'v2', percent: 10 } });
    expect(res.body.steps).toEqual([
      { weight: 0, bakeMs: 300_000, shadow: 10 },
      { weight: 5, bakeMs: 300_000 },
      { weight: 100, bakeMs: 60_000 },
    ]);
    const late = await call(g, 'POST', `${SERVICE}/rollout`, { candidate: 'v3', steps: [{ weight: 5 }, { shadow: 10 }, { weight: 50 }] });
    expect(late.status).toBe(400);
  });

  it('a plan with a shadow step after a weighted one, or ending in one, is refused naming the step', async () => {
    const g = await start();
    const after = await call(g, 'POST', `${SERVICE}/rollout`, { candidate: 'v2', steps: [{ weight: 5 }, { shadow: 10 }, { weight: 50 }] });
    expect(after.body.errors).toEqual([{ field: 'steps[1].shadow', message: 'shadow steps come before the first weighted step' }]);
    const ending = await call(g, 'POST', `${SERVICE}/rollout`, { candidate: 'v2', steps: [{ shadow: 10 }] });
    expect(ending.body.errors).toEqual([{ field: 'steps', message: 'a weighted step must follow the shadow steps, or the last one would promote a version no client has used' }]);
  });

  it("shows the shadow's verdict beside the live one, also when a figure is not finite", async () => {
    const g = await start();
    const drift = { flagged: true, rollback: false, reason: 'disagreement 12% > 5%', figures: { disagreement: 0.12, psi: Number.POSITIVE_INFINITY } };
    const shadow = { version: 'v2', result: 'pass' as const, reason: 'errors and latency like stable', checks: [], figures: { pairs: 900, ratio: Number.NaN }, drift };
    await g.store.putVerdict('fraud-scorer', { result: 'inconclusive', reason: 'no candidate traffic', at: Date.now() + 60_000, hold: false, checks: [], figures: {}, shadow });
    const res = await call(g, 'GET', SERVICE);
    expect(res.body.lastVerdict).toMatchObject({ result: 'inconclusive', shadow: { version: 'v2', result: 'pass', drift: { flagged: true, reason: 'disagreement 12% > 5%' } } });
    expect(res.body.lastVerdict.shadow.figures.pairs).toBe(900);
  });

  it('seeds a standing shadow from the config', async () => {
    const g = await start('    shadow: { version: v3, percent: 5 }');
    const res = await call(g, 'GET', SERVICE);
    expect(res.body.shadow).toMatchObject({ version: 'v3', percent: 5, sampleBp: 500, salt: 'fraud-scorer:shadow' });
  });
});
