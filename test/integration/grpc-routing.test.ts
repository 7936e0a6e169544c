import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway/gateway.js';
import { deadPort } from '../helpers/backends.js';
import { admin, startTestGateway } from '../helpers/gateway.js';
import {
  answerMeta,
  first,
  gatewayYaml,
  KSERVE_PATH_PREFIX,
  kserveFixture,
  metadataOf,
  targetOf,
  unaryCall,
  until,
  type GrpcModel,
  type KserveClient,
  type ModelInferResponse,
} from '../helpers/grpc.js';

/**
 * Unary gRPC calls (KServe v2 ModelInfer) through an in-process gateway to
 * real grpc-js model servers: sticky canary routing on metadata, the
 * version pin, and what a client sees when the candidate fails it.
 */

const SERVICE = 'kserve';
const fixture = kserveFixture(SERVICE);
const { cleanup, model, gateway, infer } = fixture;
const client = (g: Gateway): KserveClient => fixture.client(targetOf(g.proxyUrl));

/** Everyone on the candidate v2, so every call tries it first. */
async function allOnCandidate(g: Gateway): Promise<void> {
  await g.commands.run(SERVICE, { type: 'start', candidate: 'v2' }, { actor: 'test' });
  await g.commands.run(SERVICE, { type: 'set-weight', weightBp: 10_000 }, { actor: 'test' });
  await until(() => g.routing.view(SERVICE)?.state.weightBp === 10_000, 'the gateway routing on weight 100 %');
}

describe('gRPC canary routing', () => {
  it('splits users between stable and candidate at the step weight, each user always on one version, named in the initial metadata', async () => {
    const [v1, v2] = await Promise.all([model('v1'), model('v2')]);
    const g = await gateway({ v1: [v1.url], v2: [v2.url] });
    const started = await admin(g, 'POST', `/api/v1/services/${SERVICE}/rollout`, { candidate: 'v2' });
    expect(started.status).toBe(200);
    await until(() => g.routing.view(SERVICE)?.state.weightBp === 5000, 'the gateway routing on the 50 % step');
    const c = client(g);

    const users = Array.from({ length: 40 }, (_, i) => `user-${i}`);
    const seen = new Map<string, string[]>();
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all(users.map((user) => infer(c, { 'x-user-id': user })));
      answers.forEach((answer, i) => {
        expect(answer.code).toBe(grpc.status.OK);
        // The version the gateway names is the model that answered.
        expect(first(answer.headers, 'x-model-version')).toBe(answer.response?.model_version);
        expect(first(answer.headers, 'x-served-by')).toBe(answer.response?.model_version);
        expect(first(answer.headers, 'x-request-id')).toMatch(/\S/);
        seen.set(users[i]!, [...(seen.get(users[i]!) ?? []), answer.response?.model_version ?? '?']);
      });
    }
    for (const [user, versions] of seen) expect(new Set(versions).size, user).toBe(1);
    const byVersion = [...seen.values()].map((v) => v[0]);
    expect(new Set(byVersion)).toEqual(new Set(['v1', 'v2']));
    expect(v1.callsTo('ModelInfer').length + v2.callsTo('ModelInfer').length).toBe(3 * users.length);
  });

  it("echoes the client's x-request-id and hands it, the serving version and the client's metadata to the model", async () => {
    const v1 = await model('v1');
    const g = await gateway({ v1: [v1.url] });
    const c = client(g);
    const answer = await unaryCall<ModelInferResponse>((cb) =>
      c.ModelInfer({ id: 'x' }, metadataOf({ 'x-user-id': 'alice', 'x-request-id': 'req-abc-1', 'x-tenant': 'acme', 'x-trace-bin': Buffer.from([0, 255, 10, 13]) }), { deadline: Date.now() + 15_000 }, cb),
    );
    expect(answer.code).toBe(grpc.status.OK);
    expect(first(answer.headers, 'x-request-id')).toBe('req-abc-1');
    const seen = v1.callsTo('ModelInfer')[0]?.metadata;
    expect({ id: first(seen, 'x-request-id'), version: first(seen, 'x-model-version'), tenant: first(seen, 'x-tenant'), user: first(seen, 'x-user-id') }).toEqual({
      id: 'req-abc-1',
      version: 'v1',
      tenant: 'acme',
      user: 'alice',
    });
    expect(seen?.get('x-trace-bin')[0]).toEqual(Buffer.from([0, 255, 10, 13]));
  });

  it('pins a call to the version its x-model-version metadata names, whatever the user would get', async () => {
    const [v1, v2] = await Promise.all([model('v1'), model('v2')]);
    const g = await gateway({ v1: [v1.url], v2: [v2.url] });
    await g.commands.run(SERVICE, { type: 'start', candidate: 'v2', weightBp: 5000 }, { actor: 'test' });
    await until(() => g.routing.view(SERVICE)?.state.weightBp === 5000, 'the gateway routing on 50 %');
    const c = client(g);
    const pinned = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => [await infer(c, { 'x-user-id': `u${i}`, 'x-model-version': 'v2' }), await infer(c, { 'x-user-id': `u${i}`, 'x-model-version': 'v1' })]),
    );
    expect(pinned.map(([toV2, toV1]) => [toV2?.response?.model_version, first(toV2?.headers, 'x-model-version'), toV1?.response?.model_version])).toEqual(Array(10).fill(['v2', 'v2', 'v1']));
  });

  it('answers a pin to an unknown version with INVALID_ARGUMENT naming the valid versions, and calls no model', async () => {
    const [v1, v2] = await Promise.all([model('v1'), model('v2')]);
    const g = await gateway({ v1: [v1.url], v2: [v2.url] });
    const answer = await infer(client(g), { 'x-user-id': 'alice', 'x-model-version': 'v9', 'x-request-id': 'bad-pin-1' });
    expect(answer.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(answer.details).toContain('v9');
    expect(answer.details).toMatch(/valid versions: v1, v2/);
    expect(answer.details).toContain('bad-pin-1');
    expect(answerMeta(answer, 'x-request-id')).toBe('bad-pin-1');
    expect(v1.calls.length + v2.calls.length).toBe(0);
  });
});

describe('gRPC routing by :authority', () => {
  it('sends calls to the service whose match.host is the call\'s :authority, on the same gRPC service name', async () => {
    const [east, west] = await Promise.all([model('east'), model('west')]);
    const yaml = gatewayYaml([
      { name: 'east', pathPrefix: KSERVE_PATH_PREFIX, host: 'east.models', versions: { v1: [east.url] } },
      { name: 'west', pathPrefix: KSERVE_PATH_PREFIX, host: 'west.models', versions: { v1: [west.url] } },
    ]);
    const g = cleanup.add(await startTestGateway(yaml));
    const served = async (authority: string) => {
      const c = fixture.client(targetOf(g.proxyUrl), undefined, { 'grpc.default_authority': `${authority}:443` });
      const answer = await infer(c, { 'x-user-id': 'u1' });
      return [answer.code, answer.response?.model_version];
    };
    expect(await served('east.models')).toEqual([grpc.status.OK, 'east']);
    expect(await served('west.models')).toEqual([grpc.status.OK, 'west']);
    const elsewhere = await infer(fixture.client(targetOf(g.proxyUrl), undefined, { 'grpc.default_authority': 'north.models' }), { 'x-user-id': 'u1' });
    expect([elsewhere.code, elsewhere.details]).toEqual([grpc.status.UNIMPLEMENTED, expect.stringContaining('SY_ERR_NO_ROUTE')]);
  });
});

describe('gRPC fallback to stable', () => {
  it('serves every call from stable when the candidate cannot be reached, and counts the fallbacks', async () => {
    const v1 = await model('v1');
    const g = await gateway({ v1: [v1.url], v2: [`http://127.0.0.1:${await deadPort()}`] });
    await allOnCandidate(g);
    const c = client(g);
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => infer(c, { 'x-user-id': `u${i}` })));
    expect(answers.map((a) => [a.code, first(a.headers, 'x-model-version'), a.response?.model_version])).toEqual(Array(10).fill([grpc.status.OK, 'v1', 'v1']));
    expect(v1.callsTo('ModelInfer')).toHaveLength(10);
    const metrics = await (await fetch(`${g.adminUrl}/metrics`)).text();
    expect(metrics).toContain(`switchyard_fallbacks_total{service="${SERVICE}",from="v2",to="v1"} 10`);
  });

  it.each([
    ['after its initial metadata', true],
    ['trailers-only', false],
  ])('replays on stable a call the candidate answered UNAVAILABLE (%s), under the same request id', async (_, initialMetadata) => {
    const [v1, v2] = await Promise.all([model('v1'), model('v2', { initialMetadata, fail: () => ({ code: grpc.status.UNAVAILABLE, details: 'model not loaded' }) })]);
    const g = await gateway({ v1: [v1.url], v2: [v2.url] });
    await allOnCandidate(g);
    const c = client(g);
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => infer(c, { 'x-user-id': `u${i}`, 'x-request-id': `replay-${i}` }, { id: `id-${i}` })));
    expect(answers.map((a) => [a.code, first(a.headers, 'x-model-version'), first(a.headers, 'x-served-by'), a.response?.id])).toEqual(answers.map((_, i) => [grpc.status.OK, 'v1', 'v1', `id-${i}`]));
    const ids = (m: GrpcModel) => m.callsTo('ModelInfer').map((call) => first(call.metadata, 'x-request-id')).sort();
    expect(ids(v2)).toEqual(answers.map((_, i) => `replay-${i}`));
    expect(ids(v1)).toEqual(ids(v2));
  });

  it("gives the replay on stable what is left of the call's deadline, not the whole of it again", async () => {
    const [v1, v2] = await Promise.all([model('v1'), model('v2', { delayMs: 3_000, fail: () => ({ code: grpc.status.UNAVAILABLE, details: 'warming up' }) })]);
    const g = await gateway({ v1: [v1.url], v2: [v2.url] });
    await allOnCandidate(g);
    const deadline = Date.now() + 20_000;
    const answer = await unaryCall<ModelInferResponse>((cb) => client(g).ModelInfer({ id: 'late' }, metadataOf({ 'x-user-id': 'u1' }), { deadline }, cb));
    expect({ code: answer.code, version: answer.response?.model_version }).toEqual({ code: grpc.status.OK, version: 'v1' });
    const [tried, replay] = [v2.callsTo('ModelInfer')[0]!, v1.callsTo('ModelInfer')[0]!];
    // The replay ends when the first attempt would have: given the whole timeout again, it would end the
    // candidate's 3 s later (more on a slow machine), never earlier than the first attempt.
    expect(Number.isFinite(tried.deadlineMs)).toBe(true);
    expect(replay.deadlineMs - tried.deadlineMs).toBeLessThan(1_500);
  });

  it('answers UNAVAILABLE naming service, candidate and request id when the failed call was too large to keep for a replay; stable is not called', async () => {
    const v1 = await model('v1');
    const g = await gateway({ v1: [v1.url], v2: [`http://127.0.0.1:${await deadPort()}`] }, ['fallback: { replayBodyBytes: 1KiB }']);
    await allOnCandidate(g);
    const answer = await unaryCall<ModelInferResponse>((cb) =>
      client(g).ModelInfer({ id: 'big', raw_input_contents: [Buffer.alloc(8192, 7)] }, metadataOf({ 'x-user-id': 'u1', 'x-request-id': 'big-1' }), { deadline: Date.now() + 15_000 }, cb),
    );
    expect(answer.code).toBe(grpc.status.UNAVAILABLE);
    expect(answer.details).toMatch(/version v2 of service kserve failed: .*\(request id big-1\)/);
    expect(v1.calls).toHaveLength(0);
  });

  it('with fallback.toStable false, answers UNAVAILABLE naming the service, the candidate and the request id', async () => {
    const v1 = await model('v1');
    const g = await gateway({ v1: [v1.url], v2: [`http://127.0.0.1:${await deadPort()}`] }, ['fallback: { toStable: false }']);
    await allOnCandidate(g);
    const answer = await infer(client(g), { 'x-user-id': 'alice', 'x-request-id': 'no-fallback-1' });
    expect(answer.code).toBe(grpc.status.UNAVAILABLE);
    expect(answer.details).toContain(SERVICE);
    expect(answer.details).toContain('v2');
    expect(answer.details).toContain('no-fallback-1');
    expect(answerMeta(answer, 'x-model-version')).toBe('v2');
    expect(v1.calls).toHaveLength(0);
  });

  it('never moves a call pinned to the candidate: it gets UNAVAILABLE, and stable is not called', async () => {
    const v1 = await model('v1');
    const g = await gateway({ v1: [v1.url], v2: [`http://127.0.0.1:${await deadPort()}`] });
    const answer = await infer(client(g), { 'x-model-version': 'v2', 'x-request-id': 'pinned-1' });
    expect(answer.code).toBe(grpc.status.UNAVAILABLE);
    expect(answer.details).toContain('pinned-1');
    expect(v1.calls).toHaveLength(0);
  });
});

describe('connections to a model', () => {
  it('sends a burst of calls on a new connection to a model without an EventEmitter leak warning', async () => {
    const v1 = await model('v1');
    const g = await gateway({ v1: [v1.url] });
    const warnings: string[] = [];
    const onWarning = (w: Error) => void warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    cleanup.defer(() => process.off('warning', onWarning));
    const c = client(g);
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => infer(c, { 'x-user-id': `u${i}` })));
    expect(answers.every((a) => a.code === grpc.status.OK)).toBe(true);
    // Warnings are emitted on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings.filter((w) => w.includes('ClientHttp2Session'))).toEqual([]);
  });

  it("queues a burst of calls on a new connection beyond the model's limit of concurrent streams instead of failing them", async () => {
    // grpc-js announces the limit in its first SETTINGS; calls opened before the gateway read it are refused (REFUSED_STREAM), never processed.
    const v1 = await model('v1', { delayMs: 200, serverOptions: { 'grpc.max_concurrent_streams': 10 } });
    const g = await gateway({ v1: [v1.url] });
    const c = client(g);
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => infer(c, { 'x-user-id': `u${i}` })));
    expect(answers.filter((a) => a.code !== grpc.status.OK).map((a) => `${a.code} ${a.details}`).slice(0, 3)).toEqual([]);
    expect(v1.callsTo('ModelInfer')).toHaveLength(50);
  });

  it('calls a model restarted on the same port again, on a new connection', async () => {
    const first = await model('v1');
    const g = await gateway({ v1: [first.url] });
    const c = client(g);
    expect((await infer(c, { 'x-user-id': 'u1' })).code).toBe(grpc.status.OK);
    await first.close();
    expect((await infer(c, { 'x-user-id': 'u1' })).code).toBe(grpc.status.UNAVAILABLE);
    const again = await model('v1', { port: first.port });
    const answers = await Promise.all(Array.from({ length: 3 }, () => infer(c, { 'x-user-id': 'u1' })));
    expect(answers.map((a) => a.code)).toEqual([grpc.status.OK, grpc.status.OK, grpc.status.OK]);
    expect(again.callsTo('ModelInfer')).toHaveLength(3);
  });

  it('loses no call while one of two targets of a version restarts gracefully, again and again', async () => {
    // A restart sends GOAWAY: calls that raced it are refused unprocessed, then the port refuses connections for a moment.
    const steady = await model('v1', { delayMs: 5 });
    let restarting = await model('v1', { delayMs: 5 });
    const port = restarting.port;
    const g = await gateway({ v1: [steady.url, restarting.url] });
    const c = client(g);
    const failures: string[] = [];
    let answered = 0;
    let running = true;
    const caller = async (n: number) => {
      for (let i = 0; running; i++) {
        const answer = await infer(c, { 'x-user-id': `u${n}-${i}` });
        if (answer.code === grpc.status.OK) answered++;
        else failures.push(`${answer.code} ${answer.details}`);
      }
    };
    const callers = Array.from({ length: 8 }, (_, n) => caller(n));
    const answeredReaches = (count: number) => until(() => answered >= count, `${count} calls answered`, 30_000);
    try {
      for (let restart = 1; restart <= 3; restart++) {
        await answeredReaches(restart * 150);
        await restarting.shutdown();
        restarting = await model('v1', { delayMs: 5, port });
      }
      await answeredReaches(600);
    } finally {
      // The callers stop before the cleanup closes their channel, whatever happened above.
      running = false;
      await Promise.allSettled(callers);
    }
    expect(failures).toEqual([]);
    expect(answered).toBeGreaterThanOrEqual(600);
  });
});
