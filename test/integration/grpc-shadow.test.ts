import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway/gateway.js';
import { deadPort } from '../helpers/backends.js';
import { admin, startTestGateway } from '../helpers/gateway.js';
import {
  answerMeta,
  collect,
  deadlineIn,
  first,
  gatewayYaml,
  kserveFixture,
  metadataOf,
  metric,
  metricReaches,
  metricsOf,
  STREAM_PATH_PREFIX,
  streamClient,
  targetOf,
  until,
  type Failure,
  type GrpcModel,
} from '../helpers/grpc.js';

/**
 * Shadows of gRPC calls through an in-process gateway, with real grpc-js
 * clients and models on 127.0.0.1: what is copied and how, what the shadow's
 * answers count as, the bounds on copies, and a shadow step rolled back.
 * Outcomes and counts are asserted, never durations.
 */

const SERVICE = 'kserve';
const { cleanup, spec: kserveSpec, model, gateway, client, infer } = kserveFixture(SERVICE);


const shadowOutcomes = (text: string) =>
  Object.fromEntries(
    ['ok', 'status', 'timeout', 'connect', 'tls', 'guardrail'].map((outcome) => [outcome, metric(text, 'switchyard_shadow_requests_total', [`service="${SERVICE}"`, 'version="v2"', `outcome="${outcome}"`])]),
  );

/** Sets the service's shadow through the admin API, and waits for the gateway to route with it. */
async function shadowOn(g: Gateway, version: string, percent = 100): Promise<void> {
  const res = await admin(g, 'PUT', `/api/v1/services/${SERVICE}/shadow`, { version, percent });
  expect(res.status).toBe(200);
  await until(() => g.routing.view(SERVICE)?.state.shadow?.version === version, 'the gateway routing with the shadow');
}

describe('shadows of gRPC calls', () => {
  it("copies each call stable answers to the shadow once, with x-switchyard-shadow: 1 and the call's request id; clients get stable's answer", async () => {
    const [v1, v2] = await Promise.all([model('v1'), model('v2')]);
    const g = await gateway({ v1: [v1.url], v2: [v2.url] });
    await shadowOn(g, 'v2');
    const c = client(targetOf(g.proxyUrl));
    const ids = Array.from({ length: 20 }, (_, i) => `shadowed-${i}`);
    const answers = await Promise.all(ids.map((id, i) => infer(c, { 'x-user-id': `u${i}`, 'x-request-id': id }, { id })));
    expect(answers.map((a) => [a.code, first(a.headers, 'x-model-version'), a.response?.model_version, a.response?.id])).toEqual(ids.map((id) => [grpc.status.OK, 'v1', 'v1', id]));

    await until(() => v2.callsTo('ModelInfer').length >= ids.length, 'every copy at the shadow');
    const text = await metricReaches(g.adminUrl, 'switchyard_shadow_requests_total', [`service="${SERVICE}"`, 'version="v2"'], ids.length);
    const copies = v2.callsTo('ModelInfer');
    expect(copies.map((call) => first(call.metadata, 'x-request-id')).sort()).toEqual([...ids].sort());
    expect(new Set(copies.map((call) => `${first(call.metadata, 'x-switchyard-shadow')} ${first(call.metadata, 'x-model-version')}`))).toEqual(new Set(['1 v2']));
    // Stable saw each call once, as a live call.
    expect(v1.callsTo('ModelInfer').map((call) => first(call.metadata, 'x-request-id')).sort()).toEqual([...ids].sort());
    expect(v1.calls.filter((call) => first(call.metadata, 'x-switchyard-shadow') !== undefined)).toEqual([]);
    expect(shadowOutcomes(text)).toMatchObject({ ok: ids.length, status: 0, timeout: 0, connect: 0 });
    // The copies are no client's calls.
    expect(metric(text, 'switchyard_grpc_calls_total', ['version="v2"'])).toBe(0);
    expect(metric(text, 'switchyard_grpc_calls_total', ['version="v1"', 'code="OK"'])).toBe(ids.length);
  });

  it('copies a server-streaming call, reads the shadow\'s stream to its end and drops it; the client gets stable\'s messages only', async () => {
    const [v1, v2] = await Promise.all([model('v1'), model('v2')]);
    const g = await startTestGateway(gatewayYaml([{ name: 'streams', pathPrefix: STREAM_PATH_PREFIX, versions: { v1: [v1.url], v2: [v2.url] }, extra: ['shadow: { version: v2 }'] }]));
    cleanup.add(g);
    const s = cleanup.add(streamClient(targetOf(g.proxyUrl)));
    const result = await collect(s.Count({ count: 5, payload_bytes: 16 }, metadataOf({ 'x-user-id': 'u1', 'x-request-id': 'count-1' }), { deadline: deadlineIn(15_000) }));
    expect({ code: result.code, seqs: result.messages.map((m) => m.seq), version: first(result.headers, 'x-model-version') }).toEqual({ code: grpc.status.OK, seqs: [0, 1, 2, 3, 4], version: 'v1' });
    const text = await metricReaches(g.adminUrl, 'switchyard_shadow_requests_total', ['service="streams"', 'outcome="ok"'], 1);
    expect(metric(text, 'switchyard_shadow_requests_total', ['service="streams"'])).toBe(1);
    const copy = v2.callsTo('Count');
    expect(copy.map((call) => [first(call.metadata, 'x-request-id'), first(call.metadata, 'x-switchyard-shadow'), call.written])).toEqual([['count-1', '1', 5]]);
  });

  const UNAVAILABLE: Failure = { code: grpc.status.UNAVAILABLE, details: 'model not loaded' };
  const INTERNAL: Failure = { code: grpc.status.INTERNAL, details: 'tensor shape mismatch' };
  const NOT_FOUND: Failure = { code: grpc.status.NOT_FOUND, details: 'no such model' };
  const DEADLINE: Failure = { code: grpc.status.DEADLINE_EXCEEDED, details: 'inference queue full' };
  it.each([
    ['answers UNAVAILABLE', 'status', { fail: () => UNAVAILABLE }],
    ['answers INTERNAL trailers-only', 'status', { fail: () => INTERNAL, initialMetadata: false }],
    ['answers NOT_FOUND, not a failing code', 'ok', { fail: () => NOT_FOUND }],
    ['answers DEADLINE_EXCEEDED itself, a timeout as on the live path', 'timeout', { fail: () => DEADLINE }],
    ['is slower than shadow.timeout', 'timeout', { delayMs: 4_000 }],
  ] as const)('a shadow that %s: every client gets stable\'s OK, and the copies are counted as %s', async (_, outcome, behaviour) => {
    const [v1, v2] = await Promise.all([model('v1'), model('v2', behaviour)]);
    const g = await gateway({ v1: [v1.url], v2: [v2.url] }, ['shadow: { timeout: 300ms }']);
    await shadowOn(g, 'v2');
    const c = client(targetOf(g.proxyUrl));
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => infer(c, { 'x-user-id': `u${i}` }, { id: `id-${i}` })));
    expect(answers.map((a) => [a.code, first(a.headers, 'x-model-version'), a.response?.model_version])).toEqual(Array(10).fill([grpc.status.OK, 'v1', 'v1']));

    const text = await metricReaches(g.adminUrl, 'switchyard_shadow_requests_total', [`service="${SERVICE}"`, 'version="v2"'], 10);
    expect(shadowOutcomes(text)).toEqual({ ok: 0, status: 0, timeout: 0, connect: 0, tls: 0, guardrail: 0, [outcome]: 10 });
    expect(v2.callsTo('ModelInfer')).toHaveLength(10);
    // Nothing of the shadow's reaches the client's counts.
    expect(metric(text, 'switchyard_grpc_calls_total', [`service="${SERVICE}"`])).toBe(10);
    expect(metric(text, 'switchyard_upstream_errors_total', [`service="${SERVICE}"`])).toBe(0);
    expect(metric(text, 'switchyard_fallbacks_total', [`service="${SERVICE}"`])).toBe(0);
    if (outcome === 'timeout') {
      // The copy carried the shadow's own deadline, not the client's 15 s.
      const clientDeadline = Date.now() + 10_000;
      expect(v2.callsTo('ModelInfer').filter((call) => call.deadlineMs > clientDeadline)).toEqual([]);
    }
  });

  it('gives a copy the request id the gateway made for a call that came without one', async () => {
    const [v1, v2] = await Promise.all([model('v1'), model('v2')]);
    const g = await gateway({ v1: [v1.url], v2: [v2.url] }, ['shadow: { version: v2 }']);
    const c = client(targetOf(g.proxyUrl));
    const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => infer(c, { 'x-user-id': `u${i}` })));
    const given = answers.map((a) => first(a.headers, 'x-request-id') ?? 'none').sort();
    expect(new Set(given).size).toBe(5);
    await metricReaches(g.adminUrl, 'switchyard_shadow_requests_total', [`service="${SERVICE}"`, 'outcome="ok"'], 5);
    const ids = (m: GrpcModel) => m.callsTo('ModelInfer').map((call) => first(call.metadata, 'x-request-id') ?? 'none').sort();
    expect({ stable: ids(v1), shadow: ids(v2) }).toEqual({ stable: given, shadow: given });
  });

  it('drops and counts the copies beyond shadow.maxConcurrent instead of queueing them; clients get every answer', async () => {
    // The shadow holds its copies far longer than the calls take to arrive, so the first two fill the bound.
    const [v1, v2] = await Promise.all([model('v1'), model('v2', { delayMs: 4_000 })]);
    const g = await gateway({ v1: [v1.url], v2: [v2.url] }, ['shadow: { version: v2, timeout: 20s, maxConcurrent: 2 }']);
    const c = client(targetOf(g.proxyUrl));
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => infer(c, { 'x-user-id': `u${i}` })));
    expect(answers.map((a) => [a.code, first(a.headers, 'x-model-version')])).toEqual(Array(10).fill([grpc.status.OK, 'v1']));
    const text = await metricReaches(g.adminUrl, 'switchyard_shadow_requests_total', [`service="${SERVICE}"`, 'outcome="ok"'], 2);
    expect(metric(text, 'switchyard_shadow_dropped_total', [`service="${SERVICE}"`, 'reason="concurrency"'])).toBe(8);
    expect(v2.callsTo('ModelInfer')).toHaveLength(2);
  });

  it('a shadow that cannot be reached is counted as connect, and clients get stable\'s OK', async () => {
    const v1 = await model('v1');
    const g = await gateway({ v1: [v1.url], v2: [`http://127.0.0.1:${await deadPort()}`] });
    await shadowOn(g, 'v2');
    const c = client(targetOf(g.proxyUrl));
    const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => infer(c, { 'x-user-id': `u${i}` })));
    expect(answers.map((a) => [a.code, first(a.headers, 'x-model-version')])).toEqual(Array(5).fill([grpc.status.OK, 'v1']));
    const text = await metricReaches(g.adminUrl, 'switchyard_shadow_requests_total', [`service="${SERVICE}"`, 'version="v2"'], 5);
    expect(shadowOutcomes(text)).toMatchObject({ connect: 5, ok: 0 });
  });

  it('does not send a call over shadow.maxBodyBytes to the shadow, and counts it as dropped for its body', async () => {
    const [v1, v2] = await Promise.all([model('v1'), model('v2')]);
    const g = await gateway({ v1: [v1.url], v2: [v2.url] }, ['shadow: { version: v2, maxBodyBytes: 1KiB }']);
    const c = client(targetOf(g.proxyUrl));
    const big = await infer(c, { 'x-user-id': 'u1', 'x-request-id': 'big-1' }, { id: 'big', raw_input_contents: [Buffer.alloc(8192, 7)] });
    const small = await infer(c, { 'x-user-id': 'u2', 'x-request-id': 'small-1' }, { id: 'small' });
    expect([big, small].map((a) => [a.code, first(a.headers, 'x-model-version'), a.response?.id])).toEqual([
      [grpc.status.OK, 'v1', 'big'],
      [grpc.status.OK, 'v1', 'small'],
    ]);
    const text = await metricReaches(g.adminUrl, 'switchyard_shadow_requests_total', [`service="${SERVICE}"`, 'version="v2"'], 1);
    expect(metric(text, 'switchyard_shadow_dropped_total', [`service="${SERVICE}"`, 'version="v2"', 'reason="body"'])).toBe(1);
    expect(metric(text, 'switchyard_shadow_dropped_total', ['reason="concurrency"'])).toBe(0);
    expect(v2.callsTo('ModelInfer').map((call) => first(call.metadata, 'x-request-id'))).toEqual(['small-1']);
  });

  it('does not mirror calls pinned with x-model-version, only the ones stable was assigned', async () => {
    const [v1, v2] = await Promise.all([model('v1'), model('v2')]);
    const g = await gateway({ v1: [v1.url], v2: [v2.url] }, ['shadow: { version: v2 }']);
    const c = client(targetOf(g.proxyUrl));
    const pinnedToStable = await Promise.all(Array.from({ length: 5 }, (_, i) => infer(c, { 'x-user-id': `p${i}`, 'x-model-version': 'v1', 'x-request-id': `pinned-v1-${i}` })));
    const pinnedToShadow = await Promise.all(Array.from({ length: 5 }, (_, i) => infer(c, { 'x-user-id': `q${i}`, 'x-model-version': 'v2', 'x-request-id': `pinned-v2-${i}` })));
    const assigned = await Promise.all(Array.from({ length: 5 }, (_, i) => infer(c, { 'x-user-id': `a${i}`, 'x-request-id': `assigned-${i}` })));
    expect([...pinnedToStable, ...pinnedToShadow, ...assigned].map((a) => [a.code, first(a.headers, 'x-model-version')])).toEqual([
      ...Array(5).fill([grpc.status.OK, 'v1']),
      ...Array(5).fill([grpc.status.OK, 'v2']),
      ...Array(5).fill([grpc.status.OK, 'v1']),
    ]);
    await metricReaches(g.adminUrl, 'switchyard_shadow_requests_total', [`service="${SERVICE}"`, 'version="v2"'], 5);
    const atShadow = v2.callsTo('ModelInfer').map((call) => `${first(call.metadata, 'x-request-id')} ${first(call.metadata, 'x-switchyard-shadow') ?? 'live'}`);
    expect(atShadow.sort()).toEqual([...Array.from({ length: 5 }, (_, i) => `assigned-${i} 1`), ...Array.from({ length: 5 }, (_, i) => `pinned-v2-${i} live`)].sort());
  });

  it('rolls back, on a shadow step, a candidate whose shadow fails most calls with UNAVAILABLE, and no client ever sees it', async () => {
    // Most copies fail; a step meant to fail bakes long enough for the evidence to build however slowly a busy machine sends the traffic.
    const [v1, v2] = await Promise.all([model('v1'), model('v2', { fail: (n) => (n % 5 === 4 ? null : UNAVAILABLE) })]);
    const yaml = gatewayYaml([kserveSpec({ v1: [v1.url], v2: [v2.url] }, ['analysis: { minCandidateRequests: 20, latencyEnabled: false }'], '[ { shadow: 100, bake: 60s }, { weight: 50, bake: 1s } ]')], {
      analysis: '{ interval: 500ms, bucket: 500ms, flush: 250ms, settle: 500ms, baseline: 5s }',
    });
    const g = cleanup.add(await startTestGateway(yaml));
    expect((await admin(g, 'POST', `/api/v1/services/${SERVICE}/rollout`, { candidate: 'v2' })).status).toBe(200);
    await until(() => g.routing.view(SERVICE)?.state.shadow?.version === 'v2', 'the gateway routing with the shadow step');
    expect(g.routing.view(SERVICE)?.state.weightBp).toBe(0);
    const c = client(targetOf(g.proxyUrl));
    const seen: Array<[number, string | undefined]> = [];
    let user = 0;
    await until(
      async () => {
        const answers = await Promise.all(Array.from({ length: 10 }, () => infer(c, { 'x-user-id': `user-${user++}` })));
        for (const a of answers) seen.push([a.code, answerMeta(a, 'x-model-version')]);
        return g.routing.view(SERVICE)?.state.phase === 'rolled_back';
      },
      'the analysis rolling the shadow step back',
      60_000,
    );
    const state = g.routing.view(SERVICE)?.state;
    expect({ stepIndex: state?.stepIndex, shadow: state?.shadow }).toEqual({ stepIndex: 0, shadow: null });
    expect(state?.reason).toMatch(/^analysis: shadow v2 failed against stable on the same requests/);
    expect(new Set(seen.map(([code, version]) => `${code} ${version}`))).toEqual(new Set([`${grpc.status.OK} v1`]));
    const text = await metricsOf(g.adminUrl);
    expect(shadowOutcomes(text).status).toBeGreaterThan(0);
    expect(metric(text, 'switchyard_grpc_calls_total', ['version="v2"'])).toBe(0);
  }, 90_000);
});
