import { once } from 'node:events';
import { connect, type IncomingHttpHeaders } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import type { ModelStreamInferResponse } from '../../src/demo/kserve-proto.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startTestGateway } from '../helpers/gateway.js';
import {
  answerMeta,
  Cleanup,
  collect,
  deadlineIn,
  first,
  gatewayYaml,
  KSERVE_PATH_PREFIX,
  kserveClient,
  metadataOf,
  STREAM_PATH_PREFIX,
  startGrpcModel,
  streamClient,
  targetOf,
  unaryCall,
  until,
  type Chunk,
  type GrpcModel,
  type GrpcModelOptions,
  type KserveClient,
  type ModelInferResponse,
  type StreamClient,
  type SumReply,
} from '../helpers/grpc.js';

/**
 * Streaming calls, deadlines, cancellation and trailers through an
 * in-process gateway, each side a real grpc-js peer: what the client gets
 * and what the model saw.
 */

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** One model behind both services (KServe on `kserve`, StreamTest on `streams`); v2 too when given. */
async function setup(v1Options: Omit<GrpcModelOptions, 'version'> = {}, withCandidate = false): Promise<{ g: Gateway; v1: GrpcModel; v2: GrpcModel | null; kserve: KserveClient; streams: StreamClient }> {
  const v1 = cleanup.add(await startGrpcModel({ version: 'v1', ...v1Options }));
  const v2 = withCandidate ? cleanup.add(await startGrpcModel({ version: 'v2' })) : null;
  const versions = (m: GrpcModel | null): Record<string, string[]> => (m === null ? {} : { v2: [m.url] });
  const g = cleanup.add(
    await startTestGateway(
      gatewayYaml([
        { name: 'kserve', pathPrefix: KSERVE_PATH_PREFIX, versions: { v1: [v1.url], ...versions(v2) } },
        { name: 'streams', pathPrefix: STREAM_PATH_PREFIX, versions: { v1: [v1.url], ...versions(v2) } },
      ]),
    ),
  );
  if (v2 !== null) {
    for (const service of ['kserve', 'streams']) {
      await g.commands.run(service, { type: 'start', candidate: 'v2', weightBp: 10_000 }, { actor: 'test' });
      await until(() => g.routing.view(service)?.state.weightBp === 10_000, `${service} routing everyone to the candidate`);
    }
  }
  const target = targetOf(g.proxyUrl);
  return { g, v1, v2, kserve: cleanup.add(kserveClient(target)), streams: cleanup.add(streamClient(target)) };
}

/** Writes `n` inference requests on one ModelStreamInfer stream, each only after the answer to the one before: nothing may wait for the stream's end. */
async function pingPong(kserve: KserveClient, n: number): Promise<{ ids: string[]; versions: string[]; served: string | undefined; code: grpc.status }> {
  const call = kserve.ModelStreamInfer(metadataOf({ 'x-user-id': 'streamer' }), { deadline: deadlineIn(20_000) });
  const ended = collect(call);
  const answers: ModelStreamInferResponse[] = [];
  const next = () => new Promise<ModelStreamInferResponse>((resolve) => call.once('data', resolve));
  for (let i = 0; i < n; i++) {
    const answer = next();
    call.write({ model_name: 'scorer', id: `r${i}` });
    answers.push(await answer);
  }
  call.end();
  const result = await ended;
  return {
    ids: answers.map((a) => a.infer_response?.id ?? '?'),
    versions: answers.map((a) => a.infer_response?.model_version ?? '?'),
    served: first(result.headers, 'x-model-version'),
    code: result.code,
  };
}

describe('gRPC streams through the gateway', () => {
  it('relays a server stream: every message in order, then OK', async () => {
    const { streams } = await setup();
    const result = await collect(streams.Count({ count: 50, payload_bytes: 100 }, metadataOf({ 'x-user-id': 'u1' })));
    expect(result.code).toBe(grpc.status.OK);
    expect(result.messages.map((m) => m.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(result.messages.every((m) => m.payload.length === 100 && m.payload[0] === m.seq % 256)).toBe(true);
    expect(first(result.headers, 'x-model-version')).toBe('v1');
  });

  it('relays a client stream: the model sums every message the client sent', async () => {
    const { streams } = await setup();
    const result = await unaryCall<SumReply>((cb) => {
      const call = streams.Sum(metadataOf({ 'x-user-id': 'u1' }), { deadline: deadlineIn(15_000) }, cb);
      for (let i = 1; i <= 200; i++) call.write({ seq: i, value: i });
      call.end();
      return call;
    });
    expect({ code: result.code, reply: result.response }).toEqual({ code: grpc.status.OK, reply: { total: 20_100, count: 200 } });
  });

  it('relays a bidi ModelStreamInfer stream message by message: one answer per request, in order', async () => {
    const { kserve, v1 } = await setup();
    const run = await pingPong(kserve, 20);
    expect(run).toEqual({ ids: Array.from({ length: 20 }, (_, i) => `r${i}`), versions: Array(20).fill('v1'), served: 'v1', code: grpc.status.OK });
    expect(v1.callsTo('ModelStreamInfer')).toHaveLength(1);
  });

  it('relays a bidi stream on the candidate message by message, though it could still be replayed on stable', async () => {
    const { kserve, v1 } = await setup({}, true);
    const run = await pingPong(kserve, 10);
    expect(run).toEqual({ ids: Array.from({ length: 10 }, (_, i) => `r${i}`), versions: Array(10).fill('v2'), served: 'v2', code: grpc.status.OK });
    expect(v1.calls).toHaveLength(0);
  });

  it("passes a candidate's UNAVAILABLE after its first messages to the client: messages went out, so the call is not replayed", async () => {
    const { streams, v1 } = await setup({}, true);
    const result = await collect(streams.Count({ count: 10, payload_bytes: 10, interval_ms: 10, fail_after: 2, fail_code: grpc.status.UNAVAILABLE, fail_message: 'lost the GPU' }, metadataOf({ 'x-user-id': 'u1' })));
    expect({ code: result.code, details: result.details, seqs: result.messages.map((m) => m.seq), version: first(result.headers, 'x-model-version') }).toEqual({
      code: grpc.status.UNAVAILABLE,
      details: 'lost the GPU',
      seqs: [0, 1],
      version: 'v2',
    });
    expect(v1.calls).toHaveLength(0);
  });

  it('relays gzip-compressed messages both ways', async () => {
    const { g } = await setup();
    const gzip = cleanup.add(streamClient(targetOf(g.proxyUrl), grpc.credentials.createInsecure(), { 'grpc.default_compression_algorithm': grpc.compressionAlgorithms.gzip }));
    const result = await collect(gzip.Count({ count: 5, payload_bytes: 50_000 }, metadataOf({ 'x-user-id': 'u1' })));
    expect({ code: result.code, sizes: result.messages.map((m) => m.payload.length) }).toEqual({ code: grpc.status.OK, sizes: Array(5).fill(50_000) });
    const echoed = await unaryCall<Chunk>((cb) => gzip.Echo({ value: 11, payload: Buffer.alloc(100_000, 1) }, metadataOf({ 'x-user-id': 'u1' }), { deadline: deadlineIn(15_000) }, cb));
    expect({ code: echoed.code, value: echoed.response?.value }).toEqual({ code: grpc.status.OK, value: 11 });
  });
});

describe('gRPC deadlines and cancellation', () => {
  it("ends a call past the client's deadline with DEADLINE_EXCEEDED and cancels the model's call, which knew the deadline", async () => {
    const { kserve, v1 } = await setup({ delayMs: 20_000 });
    const result = await unaryCall<ModelInferResponse>((cb) => kserve.ModelInfer({ id: 'slow' }, metadataOf({ 'x-user-id': 'u1' }), { deadline: deadlineIn(1_000) }, cb));
    expect(result.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    await until(() => v1.callsTo('ModelInfer')[0]?.cancelled === true, "the model's call cancelled");
    const seen = v1.callsTo('ModelInfer')[0]!;
    expect(Number.isFinite(seen.deadlineMs)).toBe(true);
  });

  it("enforces the call's grpc-timeout itself for a client that does not: DEADLINE_EXCEEDED naming service and version, and the model's call cancelled", async () => {
    const { g, v1 } = await setup({ delayMs: 20_000 });
    const session = connect(g.proxyUrl);
    cleanup.defer(() => session.destroy());
    session.on('error', () => undefined);
    const stream = session.request({
      ':method': 'POST',
      ':path': `${KSERVE_PATH_PREFIX}/ModelInfer`,
      'content-type': 'application/grpc',
      te: 'trailers',
      'grpc-timeout': '1S',
      'x-user-id': 'u1',
      'x-request-id': 'raw-deadline-1',
    });
    // One empty ModelInferRequest: not compressed, length 0.
    stream.end(Buffer.alloc(5));
    // The model sent its initial metadata at once: the status comes in the trailers.
    let trailers: IncomingHttpHeaders = {};
    stream.on('trailers', (t: IncomingHttpHeaders) => (trailers = t));
    const [headers] = (await once(stream, 'response')) as [IncomingHttpHeaders];
    stream.resume();
    await once(stream, 'close');
    const status = { ...headers, ...trailers };
    expect({ status: headers[':status'], grpcStatus: status['grpc-status'], version: headers['x-model-version'] }).toEqual({ status: 200, grpcStatus: String(grpc.status.DEADLINE_EXCEEDED), version: 'v1' });
    const message = decodeURIComponent(String(status['grpc-message']));
    expect(message).toContain('kserve');
    expect(message).toContain('raw-deadline-1');
    await until(() => v1.callsTo('ModelInfer')[0]?.cancelled === true, "the model's call cancelled");
  });

  it('carries a client cancelling a server stream mid-way to the model, which stops writing', async () => {
    const { streams, v1 } = await setup();
    const call = streams.Count({ count: 10_000, payload_bytes: 10, interval_ms: 20 }, metadataOf({ 'x-user-id': 'u1' }));
    const ended = collect(call);
    await until(() => (v1.callsTo('Count')[0]?.written ?? 0) >= 5, 'five messages written');
    call.cancel();
    const result = await ended;
    expect(result.code).toBe(grpc.status.CANCELLED);
    await until(() => v1.callsTo('Count')[0]?.cancelled === true, "the model's call cancelled");
    const written = v1.callsTo('Count')[0]!.written;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(v1.callsTo('Count')[0]!.written).toBe(written);
    expect(written).toBeLessThan(10_000);
  });

  it('gives the client the status a model ended its stream with mid-way, after the messages before it', async () => {
    const { streams } = await setup();
    const result = await collect(streams.Count({ count: 10, payload_bytes: 10, interval_ms: 10, fail_after: 3, fail_code: grpc.status.ABORTED, fail_message: 'batch aborted' }, metadataOf({ 'x-user-id': 'u1' })));
    expect({ code: result.code, details: result.details, seqs: result.messages.map((m) => m.seq) }).toEqual({ code: grpc.status.ABORTED, details: 'batch aborted', seqs: [0, 1, 2] });
    expect(first(result.headers, 'x-model-version')).toBe('v1');
  });
});

describe('gRPC trailers', () => {
  it('passes an error status, a non-ASCII grpc-message and custom trailing metadata unchanged', async () => {
    const trailers = metadataOf({ 'x-reason': 'no-such-model', 'x-detail-bin': Buffer.from([0, 1, 2, 254, 255]) });
    const { kserve } = await setup({ fail: () => ({ code: grpc.status.NOT_FOUND, details: 'modèle absent: «scorer» 🙂', trailers }) });
    const result = await unaryCall<ModelInferResponse>((cb) => kserve.ModelInfer({ id: 'x' }, metadataOf({ 'x-user-id': 'u1' }), { deadline: deadlineIn(15_000) }, cb));
    expect(result.code).toBe(grpc.status.NOT_FOUND);
    expect(result.details).toBe('modèle absent: «scorer» 🙂');
    expect(first(result.trailers, 'x-reason')).toBe('no-such-model');
    expect(result.trailers.get('x-detail-bin')[0]).toEqual(Buffer.from([0, 1, 2, 254, 255]));
    expect(answerMeta(result, 'x-model-version')).toBe('v1');
    expect(answerMeta(result, 'x-served-by')).toBe('v1');
  });

  it('passes the trailing metadata of a successful answer after its message', async () => {
    const { kserve } = await setup({ trailers: () => metadataOf({ 'x-cost-units': '42', 'x-note': 'cached' }) });
    const result = await unaryCall<ModelInferResponse>((cb) => kserve.ModelInfer({ id: 'ok-1' }, metadataOf({ 'x-user-id': 'u1' }), { deadline: deadlineIn(15_000) }, cb));
    expect(result.code).toBe(grpc.status.OK);
    expect(result.response?.id).toBe('ok-1');
    expect(first(result.headers, 'x-served-by')).toBe('v1');
    expect({ cost: first(result.trailers, 'x-cost-units'), note: first(result.trailers, 'x-note') }).toEqual({ cost: '42', note: 'cached' });
  });

  it("passes a server stream's trailing metadata after its last message", async () => {
    const { streams } = await setup();
    const result = await collect(streams.Count({ count: 5, payload_bytes: 1 }, metadataOf({ 'x-user-id': 'u1' })));
    expect({ code: result.code, messages: result.messages.length, sent: first(result.trailers, 'x-messages-sent') }).toEqual({ code: grpc.status.OK, messages: 5, sent: '5' });
  });
});
