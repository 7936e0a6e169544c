import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { KSERVE_PROTO_PATH, type ModelStreamInferResponse } from '../../src/demo/kserve-proto.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import { admin } from '../helpers/gateway.js';
import { collect, first, kserveFixture, metadataOf, metric, metricReaches, targetOf, until, type CallResult, type ModelInferResponse } from '../helpers/grpc.js';
import { spawnServe } from '../helpers/serve-process.js';

/**
 * The prediction guardrail and the shadow's prediction comparison on a gRPC
 * service, which read a field of the protobuf answer with the service's
 * .proto (`grpc.proto`, here the KServe v2 proto): real grpc-js clients and
 * models through an in-process gateway, outcomes and counts asserted.
 */

const SERVICE = 'kserve';
const { model, gateway, client, infer } = kserveFixture(SERVICE);
const SCORE = 'outputs[0].contents.fp32_contents[0]';
const PROTO = `grpc: { proto: "${KSERVE_PROTO_PATH}" }`;
const guardrail = (action: string) => `guardrail: { field: "${SCORE}", min: 0, max: 1, action: ${action} }`;

/** Everyone on the candidate v2, so every call tries it first. */
async function allOnCandidate(g: Gateway): Promise<void> {
  await g.commands.run(SERVICE, { type: 'start', candidate: 'v2' }, { actor: 'test' });
  await g.commands.run(SERVICE, { type: 'set-weight', weightBp: 10_000 }, { actor: 'test' });
  await until(() => g.routing.view(SERVICE)?.state.weightBp === 10_000, 'the gateway routing on weight 100 %');
}

const scoreOf = (answer: CallResult<ModelInferResponse>) => answer.response?.outputs[0]?.contents?.fp32_contents[0];

describe('the prediction guardrail on gRPC answers', () => {
  it('counts a candidate answer outside the range as a guardrail failure and still serves it (count)', async () => {
    const [v1, v2] = await Promise.all([model('v1', { score: () => 0.25 }), model('v2', { score: () => 5 })]);
    const g = await gateway({ v1: [v1.url], v2: [v2.url] }, [PROTO, guardrail('count')]);
    await allOnCandidate(g);
    const c = client(targetOf(g.proxyUrl));
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => infer(c, { 'x-user-id': `u${i}` })));
    expect(answers.map((a) => [a.code, first(a.headers, 'x-model-version'), scoreOf(a)])).toEqual(Array(10).fill([grpc.status.OK, 'v2', 5]));
    const text = await metricReaches(g.adminUrl, 'switchyard_upstream_errors_total', [`service="${SERVICE}"`, 'version="v2"', 'kind="guardrail"'], 10);
    expect(metric(text, 'switchyard_fallbacks_total', [`service="${SERVICE}"`])).toBe(0);
  });

  it("replays on stable a candidate answer outside the range, and the client gets stable's (serve-stable)", async () => {
    const [v1, v2] = await Promise.all([model('v1', { score: () => 0.25 }), model('v2', { score: (n) => (n % 2 === 0 ? -3 : 0.5) })]);
    const g = await gateway({ v1: [v1.url], v2: [v2.url] }, [PROTO, guardrail('serve-stable')]);
    await allOnCandidate(g);
    const c = client(targetOf(g.proxyUrl));
    const answers = [];
    for (let i = 0; i < 10; i++) answers.push(await infer(c, { 'x-user-id': `u${i}`, 'x-request-id': `g-${i}` }));
    // Every other candidate answer is -3: those reach the client from stable, the rest from the candidate.
    expect(answers.map((a) => [a.code, first(a.headers, 'x-model-version'), scoreOf(a)])).toEqual(
      answers.map((_, i) => (i % 2 === 0 ? [grpc.status.OK, 'v1', 0.25] : [grpc.status.OK, 'v2', 0.5])),
    );
    const text = await metricReaches(g.adminUrl, 'switchyard_fallbacks_total', [`service="${SERVICE}"`, 'from="v2"', 'to="v1"'], 5);
    expect(metric(text, 'switchyard_upstream_errors_total', ['version="v2"', 'kind="guardrail"'])).toBe(5);
    expect(v1.callsTo('ModelInfer').map((call) => first(call.metadata, 'x-request-id'))).toEqual(['g-0', 'g-2', 'g-4', 'g-6', 'g-8']);
  });

  it('passes answers within the range, and leaves streaming methods unjudged and unbuffered', async () => {
    const [v1, v2] = await Promise.all([model('v1', { score: () => 0.25 }), model('v2', { score: () => 0.75 })]);
    const g = await gateway({ v1: [v1.url], v2: [v2.url] }, [PROTO, guardrail('serve-stable')]);
    await allOnCandidate(g);
    const c = client(targetOf(g.proxyUrl));
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => infer(c, { 'x-user-id': `u${i}` })));
    expect(answers.map((a) => [a.code, first(a.headers, 'x-model-version'), scoreOf(a)])).toEqual(Array(6).fill([grpc.status.OK, 'v2', 0.75]));
    // ModelStreamInfer answers a stream: each message reaches the client before the next request is sent.
    const stream = c.ModelStreamInfer(metadataOf({ 'x-user-id': 'u1' }));
    const seen: string[] = [];
    for (const id of ['a', 'b', 'c']) {
      const next = new Promise<ModelStreamInferResponse>((resolve) => stream.once('data', resolve));
      stream.write({ model_name: 'scorer', id });
      seen.push((await next).infer_response?.id ?? '');
    }
    stream.end();
    expect((await collect(stream)).code).toBe(grpc.status.OK);
    expect(seen).toEqual(['a', 'b', 'c']);
    const text = await (await fetch(`${g.adminUrl}/metrics`)).text();
    expect(metric(text, 'switchyard_upstream_errors_total', [`service="${SERVICE}"`, 'kind="guardrail"'])).toBe(0);
  });
});

describe("the shadow's prediction comparison on gRPC answers", () => {
  it('compares the score of each mirrored unary answer with stable’s, within the tolerance or not', async () => {
    const [v1, v2] = await Promise.all([model('v1', { score: () => 0.2 }), model('v2', { score: (n) => (n < 4 ? 0.2 : 0.9) })]);
    const g = await gateway({ v1: [v1.url], v2: [v2.url] }, [PROTO, `shadow: { prediction: { field: "${SCORE}", kind: score } }`]);
    const res = await admin(g, 'PUT', `/api/v1/services/${SERVICE}/shadow`, { version: 'v2', percent: 100 });
    expect(res.status).toBe(200);
    await until(() => g.routing.view(SERVICE)?.state.shadow?.version === 'v2', 'the gateway routing with the shadow');
    const c = client(targetOf(g.proxyUrl));
    for (let i = 0; i < 10; i++) expect((await infer(c, { 'x-user-id': `u${i}` })).code).toBe(grpc.status.OK);
    const text = await metricReaches(g.adminUrl, 'switchyard_shadow_comparisons_total', [`service="${SERVICE}"`], 10);
    expect(metric(text, 'switchyard_shadow_comparisons_total', ['result="agree"'])).toBe(4);
    expect(metric(text, 'switchyard_shadow_comparisons_total', ['result="disagree"'])).toBe(6);
  });
});

describe('a gRPC shadow and the guardrail', () => {
  it("counts a shadow answer outside the guardrail's range as the shadow's failure; clients see stable's", async () => {
    const [v1, v2] = await Promise.all([model('v1', { score: () => 0.25 }), model('v2', { score: (n) => (n < 3 ? 0.5 : 7) })]);
    const g = await gateway({ v1: [v1.url], v2: [v2.url] }, [PROTO, guardrail('serve-stable'), 'shadow: { version: v2 }']);
    const c = client(targetOf(g.proxyUrl));
    const answers = [];
    for (let i = 0; i < 8; i++) answers.push(await infer(c, { 'x-user-id': `u${i}` }));
    expect(answers.map((a) => [a.code, first(a.headers, 'x-model-version'), scoreOf(a)])).toEqual(Array(8).fill([grpc.status.OK, 'v1', 0.25]));
    const text = await metricReaches(g.adminUrl, 'switchyard_shadow_requests_total', [`service="${SERVICE}"`, 'version="v2"'], 8);
    expect(metric(text, 'switchyard_shadow_requests_total', ['outcome="guardrail"'])).toBe(5);
    expect(metric(text, 'switchyard_shadow_requests_total', ['outcome="ok"'])).toBe(3);
  });
});

describe('grpc.proto in the config', () => {
  it('refuses to start when the .proto file cannot be read, naming the field and the file', async () => {
    const run = spawnServe(`
proxy: { listen: "127.0.0.1:0" }
admin: { listen: "127.0.0.1:0" }
services:
  ${SERVICE}:
    protocol: grpc
    grpc: { proto: /nonexistent/model.proto }
    match: { pathPrefix: /inference.GRPCInferenceService }
    versions: { v1: { targets: ["http://127.0.0.1:9"] } }
    rollout: { stable: v1 }
`);
    expect(await run.exitWithin(30_000)).toBe(2);
    expect(run.stderr()).toContain(`services.${SERVICE}.grpc.proto: /nonexistent/model.proto`);
  });
});
