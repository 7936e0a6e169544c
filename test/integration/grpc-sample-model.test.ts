import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { newTally } from '../../src/demo/traffic.js';
import { generateGrpcTraffic } from '../../src/demo/grpc-traffic.js';
import { createKserveClient, KSERVE_PATH_PREFIX, kserveService, type KserveClient, type ModelInferRequestInput, type ModelInferResponse, type ModelStreamInferResponse } from '../../src/demo/kserve-proto.js';
import { startSampleGrpcModel, type SampleGrpcModel } from '../../src/demo/sample-grpc-model.js';

interface UnaryOutcome {
  readonly status: grpc.StatusObject;
  readonly initial: grpc.Metadata | null;
  readonly response: ModelInferResponse | undefined;
}

const models: SampleGrpcModel[] = [];
const clients: KserveClient[] = [];

async function model(options: Parameters<typeof startSampleGrpcModel>[0]): Promise<{ model: SampleGrpcModel; client: KserveClient }> {
  const started = await startSampleGrpcModel(options);
  const client = createKserveClient(`127.0.0.1:${started.port}`);
  models.push(started);
  clients.push(client);
  return { model: started, client };
}

function infer(client: KserveClient, request: ModelInferRequestInput): Promise<UnaryOutcome> {
  return new Promise((resolve) => {
    let initial: grpc.Metadata | null = null;
    let response: ModelInferResponse | undefined;
    const call = client.ModelInfer(request, new grpc.Metadata(), {}, (_error, value) => {
      response = value;
    });
    call.on('metadata', (metadata: grpc.Metadata) => (initial = metadata));
    call.on('status', (status: grpc.StatusObject) => resolve({ status, initial, response }));
  });
}

function features(values: number[], id = ''): ModelInferRequestInput {
  return { model_name: 'fraud', id, inputs: [{ name: 'features', datatype: 'FP32', shape: [1, values.length], contents: { fp32_contents: values } }] };
}

function scoreOf(response: ModelInferResponse | undefined): number {
  const output = response?.outputs.find((o) => o.name === 'score');
  expect(output?.datatype).toBe('FP32');
  expect(output?.shape).toEqual(['1']);
  const value = output?.contents?.fp32_contents[0];
  if (value === undefined) throw new Error('no score in the response');
  return value;
}

let healthy: { model: SampleGrpcModel; client: KserveClient };

beforeAll(async () => {
  healthy = await model({ version: 'v1' });
});

afterAll(async () => {
  for (const client of clients) client.close();
  await Promise.all(models.map((m) => m.close()));
});

describe('the KServe v2 proto', () => {
  it('declares every call under the path prefix a gateway routes gRPC inference on', () => {
    const paths = Object.values(kserveService).map((method) => method.path);
    expect(paths).toEqual(['ServerLive', 'ServerReady', 'ModelReady', 'ModelInfer', 'ModelStreamInfer'].map((name) => `${KSERVE_PATH_PREFIX}/${name}`));
    expect(kserveService['ModelStreamInfer']?.requestStream).toBe(true);
    expect(kserveService['ModelStreamInfer']?.responseStream).toBe(true);
  });
});

describe('the sample gRPC model', () => {
  it('answers live and ready', async () => {
    const ask = <Req, Res>(method: (request: Req, metadata: grpc.Metadata, options: object, callback: grpc.requestCallback<Res>) => unknown, request: Req) =>
      new Promise<Res | undefined>((resolve, reject) => method.call(healthy.client, request, new grpc.Metadata(), {}, (error, value) => (error === null ? resolve(value) : reject(error))));
    expect(await ask(healthy.client.ServerLive, {})).toEqual({ live: true });
    expect(await ask(healthy.client.ServerReady, {})).toEqual({ ready: true });
    expect(await ask(healthy.client.ModelReady, { name: 'fraud' })).toEqual({ ready: true });
  });

  it('answers ModelInfer with a score in 0..1 that depends on the input only, naming its version and echoing the request id', async () => {
    const first = await infer(healthy.client, features([0.25, 0.5], 'req-1'));
    expect(first.status.code).toBe(grpc.status.OK);
    expect(first.response).toMatchObject({ model_name: 'fraud', model_version: 'v1', id: 'req-1' });
    const score = scoreOf(first.response);
    expect(score).toBeGreaterThanOrEqual(0);
    expect(score).toBeLessThanOrEqual(1);

    const other = await model({ version: 'v1-replica' });
    expect(scoreOf((await infer(other.client, features([0.25, 0.5]))).response)).toBe(score);
    const inputs = await Promise.all([0.1, 0.2, 0.3, 0.4].map(async (x) => scoreOf((await infer(healthy.client, features([x]))).response)));
    expect(new Set(inputs).size).toBeGreaterThan(1);
  });

  it('shifts its scores by scoreShift', async () => {
    const shifted = await model({ version: 'v2', scoreShift: 0.01 });
    // Inputs whose score leaves room for the shift below 1.
    for (const x of [0.1, 0.2, 0.3]) {
      const base = scoreOf((await infer(healthy.client, features([x]))).response);
      if (base > 0.99) continue;
      expect(scoreOf((await infer(shifted.client, features([x]))).response)).toBeCloseTo(base + 0.01, 5);
    }
  });

  it('sends its version as initial metadata (x-served-by) and trailing metadata (x-model-version-served)', async () => {
    const outcome = await infer(healthy.client, features([1]));
    expect(outcome.initial?.get('x-served-by')).toEqual(['v1']);
    expect(outcome.status.metadata.get('x-model-version-served')).toEqual(['v1']);
  });

  it('fails with UNAVAILABLE and a message at errorRate 1, still naming its version', async () => {
    const failing = await model({ version: 'v3', errorRate: 1 });
    const outcome = await infer(failing.client, features([1]));
    expect(outcome.status.code).toBe(grpc.status.UNAVAILABLE);
    expect(outcome.status.details).toBe('model v3 failed');
    expect(outcome.status.metadata.get('x-model-version-served')).toEqual(['v3']);
    expect(failing.model.calls()).toBe(1);
  });

  it('fails with INTERNAL when told to', async () => {
    const failing = await model({ version: 'v3', errorRate: 1, errorCode: grpc.status.INTERNAL });
    expect((await infer(failing.client, features([1]))).status.code).toBe(grpc.status.INTERNAL);
  });

  it('spreads failures evenly and heals when its error rate is set to 0', async () => {
    const flaky = await model({ version: 'v3', errorRate: 0.5 });
    const codes: grpc.status[] = [];
    for (let i = 0; i < 4; i++) codes.push((await infer(flaky.client, features([i]))).status.code);
    expect(codes).toEqual([grpc.status.OK, grpc.status.UNAVAILABLE, grpc.status.OK, grpc.status.UNAVAILABLE]);
    flaky.model.setErrorRate(0);
    for (let i = 0; i < 3; i++) expect((await infer(flaky.client, features([i]))).status.code).toBe(grpc.status.OK);
    expect(() => flaky.model.setErrorRate(1.5)).toThrow(RangeError);
    expect(flaky.model.calls()).toBe(7);
  });

  it('answers each message of a ModelStreamInfer stream with one message, in order, with both metadata', async () => {
    const slow = await model({ version: 'v2', latencyMs: 20 });
    const stream = slow.client.ModelStreamInfer();
    const initial = new Promise<grpc.Metadata>((resolve) => stream.on('metadata', resolve));
    const status = new Promise<grpc.StatusObject>((resolve) => stream.on('status', resolve));
    const answers: ModelStreamInferResponse[] = [];
    stream.on('data', (answer: ModelStreamInferResponse) => answers.push(answer));
    for (const id of ['a', 'b', 'c']) stream.write(features([id.charCodeAt(0)], id));
    stream.end();
    expect((await status).code).toBe(grpc.status.OK);
    expect(answers.map((a) => a.infer_response?.id)).toEqual(['a', 'b', 'c']);
    expect(answers.every((a) => a.error_message === '' && a.infer_response?.model_version === 'v2')).toBe(true);
    expect((await initial).get('x-served-by')).toEqual(['v2']);
    expect((await status).metadata.get('x-model-version-served')).toEqual(['v2']);
    expect(slow.model.calls()).toBe(3);
  });

  it('reports a failed inference on the stream as an error message and keeps the stream open', async () => {
    const failing = await model({ version: 'v3', errorRate: 1 });
    const stream = failing.client.ModelStreamInfer();
    const status = new Promise<grpc.StatusObject>((resolve) => stream.on('status', resolve));
    const answers: ModelStreamInferResponse[] = [];
    stream.on('data', (answer: ModelStreamInferResponse) => answers.push(answer));
    stream.write(features([1], 'x'));
    stream.write(features([2], 'y'));
    stream.end();
    expect((await status).code).toBe(grpc.status.OK);
    expect(answers).toEqual([
      { error_message: 'model v3 failed', infer_response: null },
      { error_message: 'model v3 failed', infer_response: null },
    ]);
  });
});

describe('gRPC traffic', () => {
  it('counts every call it made and every non-OK status, and stops when aborted', async () => {
    const flaky = await model({ version: 'v3', errorRate: 0.5 });
    const tally = newTally();
    const stop = new AbortController();
    const traffic = generateGrpcTraffic(`127.0.0.1:${flaky.model.port}`, { rps: 200, users: 10, header: 'x-user-id', signal: stop.signal, tally: () => tally });
    await vi.waitFor(() => expect(flaky.model.calls()).toBeGreaterThanOrEqual(10), { timeout: 10_000 });
    stop.abort();
    await traffic;
    expect(tally.total).toBe(flaky.model.calls());
    expect(tally.errors).toBe(Math.floor(flaky.model.calls() / 2));
    // Straight to a model there is no gateway to name the version.
    expect([...tally.byVersion.keys()]).toEqual(['none']);
  });
});
