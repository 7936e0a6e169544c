import { connect as h2connect } from 'node:http2';
import { connect } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { curl, portOf } from '../helpers/admin-tls.js';
import { startBackend, type TestBackend } from '../helpers/backends.js';
import {
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
  type GrpcServiceSpec,
  type ModelInferResponse,
} from '../helpers/grpc.js';
import { spawnServe, startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { makeTestCa, type TestCa } from '../helpers/test-pki.js';

/**
 * gRPC through the real `switchyard serve` process: HTTP/2 and HTTP/1.1 on
 * one proxy port (in clear and over TLS), an https:// gRPC target, a large
 * answer to a slow reader, config refusals, and a drain on SIGTERM.
 */

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

let ca: TestCa;
let http: TestBackend;
beforeAll(async () => {
  ca = makeTestCa('gRPC Serve CA');
  http = await startBackend('v1');
});
afterAll(() => http.close());

const MD = () => metadataOf({ 'x-user-id': 'u1' });

async function model(version: string, options: Omit<Parameters<typeof startGrpcModel>[0], 'version'> = {}): Promise<GrpcModel> {
  return cleanup.add(await startGrpcModel({ version, ...options }));
}

async function serve(services: readonly GrpcServiceSpec[], proxy?: string): Promise<ServeProcess> {
  const gw = await startServeProcess(gatewayYaml(services, { logLevel: 'info', ...(proxy === undefined ? {} : { proxy }) }));
  cleanup.defer(() => gw.stop());
  return gw;
}

/** The HTTP/1.1 service beside the gRPC ones. */
const httpService = (): GrpcServiceSpec => ({ name: 'fraud-scorer', pathPrefix: '/fraud', protocol: 'http', versions: { v1: [http.url] } });
const kserveService = (url: string, extra: string[] = []): GrpcServiceSpec => ({ name: 'kserve', pathPrefix: KSERVE_PATH_PREFIX, versions: { v1: [url] }, extra });

function infer(target: string, credentials?: grpc.ChannelCredentials) {
  const client = cleanup.add(kserveClient(target, credentials));
  return unaryCall<ModelInferResponse>((cb) => client.ModelInfer({ id: 'one' }, MD(), { deadline: deadlineIn(15_000) }, cb));
}

/** Whether a TCP connection to `port` is refused: the gateway stopped listening. */
function refuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('one proxy port for HTTP/2 and HTTP/1.1, in clear', () => {
  it('serves an h2c gRPC call and HTTP/1.1 requests side by side, and answers each protocol at the wrong service with 505', async () => {
    const v1 = await model('v1');
    const gw = await serve([kserveService(v1.url), httpService()]);
    const target = targetOf(gw.proxyUrl);

    const call = await infer(target);
    expect({ code: call.code, version: first(call.headers, 'x-model-version'), model: call.response?.model_version }).toEqual({ code: grpc.status.OK, version: 'v1', model: 'v1' });

    const plain = await fetch(`${gw.proxyUrl}/fraud/score`, { method: 'POST', body: '{"x":1}', headers: { 'x-user-id': 'u1' } });
    expect({ status: plain.status, version: plain.headers.get('x-model-version') }).toEqual({ status: 200, version: 'v1' });
    await plain.arrayBuffer();

    // HTTP/1.1 at the gRPC service.
    const h1 = await fetch(`${gw.proxyUrl}${KSERVE_PATH_PREFIX}/ModelInfer`, { method: 'POST', body: new Uint8Array(5), headers: { 'content-type': 'application/grpc' } });
    expect({ status: h1.status, type: h1.headers.get('content-type') }).toEqual({ status: 505, type: 'application/problem+json' });
    expect(((await h1.json()) as { code: string }).code).toBe('SY_ERR_HTTP_VERSION');

    // HTTP/2 (prior knowledge) at the HTTP service.
    const h2 = await curl(`${gw.proxyUrl}/fraud/score`, ['--http2-prior-knowledge', '-H', 'x-user-id: u1']);
    expect({ exit: h2.exit, status: h2.status, code: (JSON.parse(h2.body) as { code: string }).code }).toEqual({ exit: 0, status: 505, code: 'SY_ERR_HTTP_VERSION' });

    // A gRPC client at the HTTP service: UNIMPLEMENTED, saying why.
    const generic = cleanup.add(new grpc.Client(target, grpc.credentials.createInsecure()));
    const misrouted = await unaryCall<Buffer>((cb) => generic.makeUnaryRequest('/fraud/Score', (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), MD(), { deadline: deadlineIn(15_000) }, cb));
    expect(misrouted.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(misrouted.details).toContain('SY_ERR_HTTP_VERSION');
    expect(v1.calls).toHaveLength(1);
  }, 60_000);
});

describe('one proxy port for HTTP/2 and HTTP/1.1, over TLS', () => {
  it('serves a gRPC call (h2 by ALPN) to an https:// gRPC target and an HTTP/1.1 HTTPS request on the same port', async () => {
    const gatewayCert = ca.issue('gateway');
    const modelCert = ca.issue('model');
    const v1 = await model('v1', { tls: { certPem: modelCert.certPem, keyPem: modelCert.keyPem } });
    expect(v1.url).toMatch(/^https:\/\//);
    const gw = await serve([kserveService(v1.url, [`tls: { ca: "${ca.caFile}" }`]), httpService()], `{ listen: "127.0.0.1:0", tls: { cert: "${gatewayCert.cert}", key: "${gatewayCert.key}" } }`);
    const port = portOf(gw.proxyUrl);

    const call = await infer(`localhost:${port}`, grpc.credentials.createSsl(Buffer.from(ca.caPem)));
    expect({ code: call.code, details: call.details, version: first(call.headers, 'x-model-version') }).toEqual({ code: grpc.status.OK, details: 'OK', version: 'v1' });
    expect(first(v1.calls[0]?.metadata, 'x-forwarded-proto')).toBe('https');

    const h1 = await curl(`https://localhost:${port}/fraud/score`, ['--http1.1', '--cacert', ca.caFile, '-H', 'x-user-id: u1', '-D', '-', '-o', '/dev/null']);
    expect({ exit: h1.exit, status: h1.status, line: h1.body.split('\r\n')[0] }).toEqual({ exit: 0, status: 200, line: 'HTTP/1.1 200 OK' });

    // curl offers h2 and http/1.1 by ALPN, as browsers do: it is given HTTP/1.1, and the HTTP service answers it.
    const both = await curl(`https://localhost:${port}/fraud/score`, ['--http2', '--cacert', ca.caFile, '-H', 'x-user-id: u1', '-D', '-', '-o', '/dev/null']);
    expect({ exit: both.exit, status: both.status, line: both.body.split('\r\n')[0] }).toEqual({ exit: 0, status: 200, line: 'HTTP/1.1 200 OK' });

    // A client that offers h2 alone gets it, and the HTTP service says it speaks HTTP/1.1 only.
    const session = h2connect(`https://localhost:${port}`, { ca: ca.caPem });
    const status = await new Promise<number>((resolve, reject) => {
      session.on('error', reject);
      const stream = session.request({ ':path': '/fraud/score' });
      stream.on('response', (headers) => resolve(Number(headers[':status'])));
      stream.resume();
    });
    session.close();
    expect(status).toBe(505);
  }, 60_000);
});

describe('a large answer to a client that stops reading', () => {
  const MESSAGES = 64;
  const MIB = 1024 * 1024;

  /**
   * Starts a 64 × 1 MiB Count stream to `target`, takes its first message and
   * stops reading; resolves once the model is held back (its count of
   * written messages stays put), with that count.
   */
  async function pausedStream(target: string, v1: GrpcModel): Promise<{ call: grpc.ClientReadableStream<Chunk>; first: Chunk; written: number; client: grpc.Client }> {
    const client = cleanup.add(streamClient(target, undefined, { 'grpc.max_receive_message_length': 4 * MIB }));
    const before = v1.callsTo('Count').length;
    const call = client.Count({ count: MESSAGES, payload_bytes: MIB }, MD(), { deadline: deadlineIn(60_000) });
    call.on('error', () => undefined);
    const firstChunk = await new Promise<Chunk>((resolve) =>
      call.once('data', (chunk: Chunk) => {
        call.pause();
        resolve(chunk);
      }),
    );
    const seen = () => v1.callsTo('Count')[before]!;
    let last = -1;
    await until(
      async () => {
        const now = seen().written;
        const still = seen().backpressured && now === last;
        last = now;
        await new Promise((resolve) => setTimeout(resolve, 500));
        return still;
      },
      'the model held back by flow control',
      30_000,
    );
    return { call, first: firstChunk, written: seen().written, client };
  }

  it('holds the model back instead of buffering 64 MiB, and delivers every message in order once the client reads again', async () => {
    const v1 = await model('v1');
    // grpc-js alone holds messages at both ends (16 in the model's writable, 16 in the client's readable): the bound the gateway is measured against.
    const direct = await pausedStream(`127.0.0.1:${v1.port}`, v1);
    direct.call.cancel();

    const gw = await serve([{ name: 'streams', pathPrefix: STREAM_PATH_PREFIX, versions: { v1: [v1.url] } }]);
    const target = targetOf(gw.proxyUrl);
    // Warm the gateway up with the same answer read at full speed: its connections, code paths and the memory a relay at full speed takes.
    const warm = await collect(cleanup.add(streamClient(target, undefined, { 'grpc.max_receive_message_length': 4 * MIB })).Count({ count: MESSAGES, payload_bytes: MIB }, MD()));
    expect({ code: warm.code, messages: warm.messages.length }).toEqual({ code: grpc.status.OK, messages: MESSAGES });

    const paused = await pausedStream(target, v1);
    // What the gateway holds is what the model wrote beyond what a direct client lets it write: a message or two,
    // far from the 64 MiB answer. Counted in messages, not in the gateway's RSS, which moves with when its GC runs.
    expect(paused.written).toBeLessThanOrEqual(direct.written + 2);
    expect(paused.written).toBeLessThan(MESSAGES / 2 + 4);

    const received = [paused.first];
    const ended = collect(paused.call);
    paused.call.on('data', (chunk: Chunk) => received.push(chunk));
    paused.call.resume();
    const result = await ended;
    expect(result.code).toBe(grpc.status.OK);
    expect(received.map((c) => c.seq)).toEqual(Array.from({ length: MESSAGES }, (_, i) => i));
    expect(received.every((c) => c.payload.length === MIB && c.payload[MIB - 1] === c.seq % 256)).toBe(true);
  }, 90_000);
});

describe('config refusals for gRPC services', () => {
  it('refuses a guardrail, a prediction comparison and a fallback response on a gRPC service: exit 2 naming each field', async () => {
    const yaml = gatewayYaml(
      [
        kserveService('http://127.0.0.1:9', [
          'guardrail: { field: score, min: 0, max: 1 }',
          'shadow: { prediction: { field: score, kind: score } }',
          'fallback: { response: { status: 200, body: { score: 0.5 } } }',
        ]),
      ],
      { logLevel: 'info' },
    );
    const run = spawnServe(yaml);
    cleanup.defer(() => run.stop());
    expect(await run.exitWithin(30_000)).toBe(2);
    const stderr = run.stderr();
    expect(stderr).toMatch(/^switchyard: /);
    for (const field of ['services.kserve.guardrail', 'services.kserve.shadow.prediction', 'services.kserve.fallback.response']) expect(stderr).toContain(field);
    expect(run.logs.filter((l) => l.msg === 'switchyard listening')).toEqual([]);
  }, 60_000);
});

describe('drain on SIGTERM', () => {
  it('lets a server stream in flight finish, refuses new calls, and exits 0', async () => {
    let release = () => undefined as void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const v1 = await model('v1', { hold: () => held });
    const gw = await serve([{ name: 'streams', pathPrefix: STREAM_PATH_PREFIX, versions: { v1: [v1.url] } }], '{ listen: "127.0.0.1:0", drainDelay: 0s, drainTimeout: 30s }');
    const target = targetOf(gw.proxyUrl);
    const client = cleanup.add(streamClient(target));
    const call = client.Count({ count: 20, payload_bytes: 10 }, MD(), { deadline: deadlineIn(60_000) });
    const ended = collect(call);
    await until(() => v1.callsTo('Count')[0]?.written === 1, 'the first message written');

    gw.child.kill('SIGTERM');
    await gw.waitForLog((l) => String(l.msg).startsWith('draining:'));
    await until(() => refuses(portOf(gw.proxyUrl)), 'the proxy port closed');
    const late = cleanup.add(streamClient(target));
    const refused = await unaryCall<Chunk>((cb) => late.Echo({ value: 1 }, MD(), { deadline: deadlineIn(15_000) }, cb));
    expect(refused.code).toBe(grpc.status.UNAVAILABLE);
    expect(gw.child.exitCode).toBeNull();

    release();
    const result = await ended;
    expect({ code: result.code, seqs: result.messages.map((m) => m.seq) }).toEqual({ code: grpc.status.OK, seqs: Array.from({ length: 20 }, (_, i) => i) });
    expect(await gw.exitWithin(30_000)).toBe(0);
    expect(gw.logs.some((l) => l.msg === 'drained and closed')).toBe(true);
    expect(gw.logs.filter((l) => String(l.msg).startsWith('drain timeout'))).toEqual([]);
    expect(v1.callsTo('Echo')).toHaveLength(0);
  }, 60_000);
});
