import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import {
  createKserveClient,
  KSERVE_PATH_PREFIX,
  kserveService,
  type KserveClient,
  type ModelInferRequest,
  type ModelInferResponse,
  type ModelInferResponseInput,
} from '../../src/demo/kserve-proto.js';
import { afterEach } from 'vitest';
import type { Gateway } from '../../src/gateway/gateway.js';
import { OPERATOR_TOKEN, READ_TOKEN, startTestGateway } from './gateway.js';

/**
 * gRPC model servers and clients for the gateway's integration tests, all
 * real @grpc/grpc-js on 127.0.0.1: the KServe v2 inference service (unary
 * ModelInfer, bidi ModelStreamInfer) and the test's StreamTest service
 * (server and client streams, large messages), with per-test behaviour, and
 * every call recorded as the model saw it (metadata, deadline, cancellation).
 */

export { KSERVE_PATH_PREFIX, type KserveClient, type ModelInferResponse };

export const STREAM_PROTO_PATH = fileURLToPath(new URL('../fixtures/proto/stream-test.proto', import.meta.url));
export const STREAM_PATH_PREFIX = '/streamtest.StreamTest';

export interface Chunk {
  seq: number;
  value: number;
  payload: Buffer;
}

export interface CountRequest {
  count: number;
  payload_bytes?: number;
  interval_ms?: number;
  fail_after?: number;
  fail_code?: number;
  fail_message?: string;
}

export interface SumReply {
  total: number;
  count: number;
}

type Unary<Req, Res> = (request: Req, metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, callback: grpc.requestCallback<Res>) => grpc.ClientUnaryCall;

/** A StreamTest client with the message types above. */
export interface StreamClient extends grpc.Client {
  Echo: Unary<Partial<Chunk>, Chunk>;
  Count(request: CountRequest, metadata?: grpc.Metadata, options?: Partial<grpc.CallOptions>): grpc.ClientReadableStream<Chunk>;
  Sum(metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, callback: grpc.requestCallback<SumReply>): grpc.ClientWritableStream<Partial<Chunk>>;
}

const streamPackage = grpc.loadPackageDefinition(loadSync(STREAM_PROTO_PATH, { keepCase: true, longs: Number, defaults: true }))['streamtest'] as grpc.GrpcObject;
const StreamTestClient = streamPackage['StreamTest'] as grpc.ServiceClientConstructor;
const streamService: grpc.ServiceDefinition = StreamTestClient.service;

/** One call as the model saw it. */
export interface RecordedCall {
  readonly method: string;
  readonly metadata: grpc.Metadata;
  /** When the call's deadline ends (epoch ms), Infinity when the call had none. */
  readonly deadlineMs: number;
  /** The client (or the gateway for it) cancelled the call, or its deadline ended it. */
  cancelled: boolean;
  /** Server-stream messages the model handed to grpc-js so far. */
  written: number;
  /** A write of this call returned false: grpc-js held it back until the stream drained. */
  backpressured: boolean;
}

/** How a call ends instead of answering. */
export interface Failure {
  readonly code: grpc.status;
  readonly details: string;
  readonly trailers?: grpc.Metadata;
}

export interface GrpcModelOptions {
  /** Sent as `x-served-by` initial metadata and `model_version` in every answer. */
  readonly version: string;
  /** Called for the n-th (0-based) ModelInfer, Echo or Sum call: a failure to end it with (Sum: once the client's stream ended), or null to answer. */
  readonly fail?: (n: number) => Failure | null;
  /** ModelInfer and Echo answer after this long (the call is still cancellable). */
  readonly delayMs?: number;
  /** ModelInfer and Echo send their initial metadata before deciding (the default); false makes a failure trailers-only. */
  readonly initialMetadata?: boolean;
  /** ModelInfer's n-th answer carries this score as its one output (`outputs[0].contents.fp32_contents[0]`). */
  readonly score?: (n: number) => number;
  /** Trailing metadata of every successful ModelInfer and Echo. */
  readonly trailers?: () => grpc.Metadata;
  /** Awaited by every Count stream after its first message: the test decides when the rest follows. */
  readonly hold?: () => Promise<void>;
  /** grpc-js server options, e.g. `grpc.max_concurrent_streams`. */
  readonly serverOptions?: grpc.ServerOptions;
  /** A port to bind instead of a free one (a model restarted in place). */
  readonly port?: number;
  /** Serve TLS (h2 by ALPN) with this PEM certificate and key instead of h2c. */
  readonly tls?: { readonly certPem: string; readonly keyPem: string };
}

export interface GrpcModel {
  /** `http://127.0.0.1:PORT`, or `https://localhost:PORT` with `tls`: a gateway's target. */
  readonly url: string;
  readonly port: number;
  /** Every call so far, in arrival order. */
  readonly calls: RecordedCall[];
  callsTo(method: string): RecordedCall[];
  /** Stops as a model server going down for a restart does: GOAWAY, calls in flight finish, new ones are refused. */
  shutdown(): Promise<void>;
  close(): Promise<void>;
}

/** `{ name: value }` as gRPC metadata. */
export function metadataOf(entries: Readonly<Record<string, string | Buffer>>): grpc.Metadata {
  const md = new grpc.Metadata();
  for (const [name, value] of Object.entries(entries)) md.set(name, value);
  return md;
}

/** The first value of `name` in `md` as text, or undefined. */
export function first(md: grpc.Metadata | null | undefined, name: string): string | undefined {
  const value = md?.get(name)[0];
  return value === undefined ? undefined : value.toString();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What every kind of server call has. */
interface ServerCall {
  readonly metadata: grpc.Metadata;
  getDeadline(): Date | number;
  on(event: 'cancelled', listener: () => void): unknown;
}

function record(calls: RecordedCall[], method: string, call: ServerCall): RecordedCall {
  const deadline = call.getDeadline();
  const rec: RecordedCall = { method, metadata: call.metadata, deadlineMs: deadline instanceof Date ? deadline.getTime() : deadline, cancelled: false, written: 0, backpressured: false };
  calls.push(rec);
  call.on('cancelled', () => (rec.cancelled = true));
  return rec;
}

/** Starts a model server speaking both KServe's GRPCInferenceService and StreamTest, on a free port of 127.0.0.1. */
export async function startGrpcModel(options: GrpcModelOptions): Promise<GrpcModel> {
  const { version } = options;
  const calls: RecordedCall[] = [];
  let answered = 0;
  let scored = 0;
  const served = () => metadataOf({ 'x-served-by': version });

  /** ModelInfer and Echo: after the delay, the n-th failure or the answer. */
  const unary = async <Res>(method: string, call: grpc.ServerUnaryCall<unknown, Res>, callback: grpc.sendUnaryData<Res>, answer: () => Res) => {
    const rec = record(calls, method, call);
    const n = answered++;
    if (options.initialMetadata !== false) call.sendMetadata(served());
    if ((options.delayMs ?? 0) > 0) await sleep(options.delayMs ?? 0);
    if (rec.cancelled) return;
    const failure = options.fail?.(n) ?? null;
    if (failure !== null) {
      callback({ code: failure.code, details: failure.details, metadata: failure.trailers ?? new grpc.Metadata() });
      return;
    }
    callback(null, answer(), options.trailers?.());
  };

  const kserve: grpc.UntypedServiceImplementation = {
    ModelInfer: (call: grpc.ServerUnaryCall<ModelInferRequest, ModelInferResponseInput>, callback: grpc.sendUnaryData<ModelInferResponseInput>) => {
      const score = options.score?.(scored++);
      const outputs = score === undefined ? [] : [{ name: 'score', datatype: 'FP32', shape: [1], contents: { fp32_contents: [score] } }];
      void unary('ModelInfer', call, callback, () => ({ model_name: call.request.model_name, model_version: version, id: call.request.id, outputs }));
    },
    ModelStreamInfer: (call: grpc.ServerDuplexStream<ModelInferRequest, unknown>) => {
      record(calls, 'ModelStreamInfer', call);
      call.sendMetadata(served());
      call.on('data', (request: ModelInferRequest) => call.write({ error_message: '', infer_response: { model_name: request.model_name, model_version: version, id: request.id } }));
      call.on('end', () => call.end());
    },
  };

  const stream: grpc.UntypedServiceImplementation = {
    Echo: (call: grpc.ServerUnaryCall<Chunk, Chunk>, callback: grpc.sendUnaryData<Chunk>) => {
      void unary('Echo', call, callback, () => ({ seq: 0, value: call.request.value, payload: Buffer.from(version) }));
    },
    Count: (call: grpc.ServerWritableStream<Required<CountRequest>, Chunk>) => {
      void count(record(calls, 'Count', call), call, served(), options.hold);
    },
    Sum: (call: grpc.ServerReadableStream<Chunk, SumReply>, callback: grpc.sendUnaryData<SumReply>) => {
      record(calls, 'Sum', call);
      call.sendMetadata(served());
      let total = 0;
      let n = 0;
      call.on('data', (chunk: Chunk) => {
        total += chunk.value;
        n++;
      });
      call.on('end', () => {
        const failure = options.fail?.(answered++) ?? null;
        if (failure === null) callback(null, { total, count: n });
        else callback({ code: failure.code, details: failure.details, metadata: failure.trailers ?? new grpc.Metadata() });
      });
    },
  };

  const server = new grpc.Server(options.serverOptions);
  server.addService(kserveService, kserve);
  server.addService(streamService, stream);
  const credentials = options.tls === undefined ? grpc.ServerCredentials.createInsecure() : grpc.ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(options.tls.certPem), private_key: Buffer.from(options.tls.keyPem) }]);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync(`127.0.0.1:${options.port ?? 0}`, credentials, (err, bound) => (err === null ? resolve(bound) : reject(err))));
  return {
    url: options.tls === undefined ? `http://127.0.0.1:${port}` : `https://localhost:${port}`,
    port,
    calls,
    callsTo: (method) => calls.filter((c) => c.method === method),
    shutdown: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
    close: async () => server.forceShutdown(),
  };
}

/** Count's server stream: each chunk waits for grpc-js to take the previous one (flow control reaches the model), until cancelled. */
async function count(rec: RecordedCall, call: grpc.ServerWritableStream<Required<CountRequest>, Chunk>, initial: grpc.Metadata, hold: (() => Promise<void>) | undefined): Promise<void> {
  const request = call.request;
  call.sendMetadata(initial);
  for (let seq = 0; seq < request.count; seq++) {
    if (rec.cancelled) return;
    if (request.fail_after > 0 && seq === request.fail_after) {
      call.emit('error', { code: request.fail_code, details: request.fail_message, metadata: new grpc.Metadata() });
      return;
    }
    if (seq === 1 && hold !== undefined) await hold();
    if (request.interval_ms > 0 && seq > 0) await sleep(request.interval_ms);
    if (rec.cancelled) return;
    rec.written++;
    if (!call.write({ seq, value: seq, payload: Buffer.alloc(request.payload_bytes, seq % 256) })) {
      rec.backpressured = true;
      await new Promise<void>((resolve) => {
        const done = () => {
          call.off('drain', done);
          call.off('cancelled', done);
          resolve();
        };
        call.on('drain', done);
        call.on('cancelled', done);
      });
    }
  }
  if (!rec.cancelled) call.end(metadataOf({ 'x-messages-sent': String(rec.written) }));
}

/** `host:port` of a gateway's proxy URL, as grpc-js takes a target. */
export function targetOf(proxyUrl: string): string {
  return new URL(proxyUrl).host;
}

export function kserveClient(target: string, credentials?: grpc.ChannelCredentials, options?: Partial<grpc.ChannelOptions>): KserveClient {
  return createKserveClient(target, credentials, options);
}

export function streamClient(target: string, credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(), options?: Partial<grpc.ChannelOptions>): StreamClient {
  return new StreamTestClient(target, credentials, options) as unknown as StreamClient;
}

/** A finished call as its client saw it: the answer (or null), the status, and both metadata. */
export interface CallResult<T> {
  readonly response: T | null;
  readonly code: grpc.status;
  readonly details: string;
  /** Initial metadata; null when the answer was trailers-only (its metadata is all in `trailers`). */
  readonly headers: grpc.Metadata | null;
  readonly trailers: grpc.Metadata;
}

/** The metadata `name` of a call's answer: from the initial metadata, else (trailers-only) the trailers. */
export function answerMeta(result: { headers: grpc.Metadata | null; trailers: grpc.Metadata }, name: string): string | undefined {
  return first(result.headers, name) ?? first(result.trailers, name);
}

/** A unary (or client-streaming) call started by `start`, resolved once its status arrived. */
export function unaryCall<T>(start: (callback: grpc.requestCallback<T>) => grpc.ClientUnaryCall | grpc.ClientWritableStream<never>): Promise<CallResult<T>> {
  return new Promise((resolve) => {
    let headers: grpc.Metadata | null = null;
    let response: T | null = null;
    let status: grpc.StatusObject | null = null;
    let called = false;
    const settle = () => {
      if (called && status !== null) resolve({ response, code: status.code, details: status.details, headers, trailers: status.metadata });
    };
    const call = start((err, value) => {
      called = true;
      if (err === null && value !== undefined) response = value;
      settle();
    });
    call.on('metadata', (md: grpc.Metadata) => (headers = md));
    call.on('status', (s: grpc.StatusObject) => {
      status = s;
      settle();
    });
  });
}

/** Every message of a server stream, and how it ended. */
export interface StreamResult<T> extends CallResult<never> {
  readonly messages: T[];
}

export function collect<T>(call: grpc.ClientReadableStream<T> | grpc.ClientDuplexStream<unknown, T>): Promise<StreamResult<T>> {
  return new Promise((resolve) => {
    const messages: T[] = [];
    let headers: grpc.Metadata | null = null;
    let status: grpc.StatusObject | null = null;
    let ended = false;
    const settle = () => {
      if (status !== null && ended) resolve({ messages, response: null, code: status.code, details: status.details, headers, trailers: status.metadata });
    };
    call.on('metadata', (md: grpc.Metadata) => (headers = md));
    call.on('data', (m: T) => messages.push(m));
    // A failed call emits 'error' instead of 'end'.
    call.on('error', () => {
      ended = true;
      settle();
    });
    call.on('end', () => {
      ended = true;
      settle();
    });
    call.on('status', (s: grpc.StatusObject) => {
      status = s;
      settle();
    });
  });
}

/** A deadline `ms` from now, as grpc-js takes it. */
export const deadlineIn = (ms: number): Date => new Date(Date.now() + ms);

/** Polls `probe` until it returns true, or throws after `timeoutMs`. */
export async function until(probe: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

export interface GrpcServiceSpec {
  readonly name: string;
  readonly pathPrefix: string;
  /** Also match the call's `:authority` (`match.host`). */
  readonly host?: string;
  readonly versions: Readonly<Record<string, readonly string[]>>;
  /** Default grpc; `http` makes an HTTP/1.1 service. */
  readonly protocol?: 'grpc' | 'http';
  /** YAML lines at the service's level, without indentation (`fallback: { toStable: false }`). */
  readonly extra?: readonly string[];
  /** The rollout's steps as YAML flow; default one 50 % step baking 10 minutes. */
  readonly steps?: string;
}

export interface GatewayYamlOptions {
  /** The `proxy:` section as YAML flow. */
  readonly proxy?: string;
  /** The `analysis:` section as YAML flow. */
  readonly analysis?: string;
  readonly logLevel?: 'silent' | 'info';
}

/** A gateway config with `services`, each with stable v1 and sticky on `x-user-id`. */
export function gatewayYaml(services: readonly GrpcServiceSpec[], options: GatewayYamlOptions = {}): string {
  const blocks = services.map((s) => {
    const versions = Object.entries(s.versions).map(([v, targets]) => `      ${v}: { targets: [${targets.map((t) => `"${t}"`).join(', ')}] }`);
    return [
      `  ${s.name}:`,
      ...((s.protocol ?? 'grpc') === 'grpc' ? ['    protocol: grpc'] : []),
      `    match: { pathPrefix: ${s.pathPrefix}${s.host === undefined ? '' : `, host: ${s.host}`} }`,
      '    stickiness: { header: x-user-id }',
      '    timeouts: { connect: 2s, request: 30s }',
      ...(s.extra ?? []).map((line) => `    ${line}`),
      '    versions:',
      ...versions,
      `    rollout: { stable: v1, strategy: canary, steps: ${s.steps ?? '[ { weight: 50, bake: 10m } ]'} }`,
    ].join('\n');
  });
  return [
    `proxy: ${options.proxy ?? '{ listen: "127.0.0.1:0" }'}`,
    'admin:',
    '  listen: "127.0.0.1:0"',
    '  tokens:',
    `    - { name: ops, token: "${OPERATOR_TOKEN}", role: operator }`,
    `    - { name: viewer, token: "${READ_TOKEN}", role: read }`,
    ...(options.analysis === undefined ? [] : [`analysis: ${options.analysis}`]),
    `log: { level: ${options.logLevel ?? 'silent'} }`,
    'services:',
    ...blocks,
    '',
  ].join('\n');
}

/** Closes every client and server a test made, last first. */
export class Cleanup {
  private closers: Array<() => unknown> = [];

  add<T extends { close(): unknown }>(thing: T): T {
    this.closers.push(() => thing.close());
    return thing;
  }

  defer(close: () => unknown): void {
    this.closers.push(close);
  }

  async run(): Promise<void> {
    for (const close of this.closers.reverse()) await close();
    this.closers = [];
  }
}

/** What most gRPC test files start with, for one KServe service `service`; everything it makes is closed after each test. */
export interface KserveFixture {
  readonly cleanup: Cleanup;
  /** The service's block for gatewayYaml: on KSERVE_PATH_PREFIX, `extra` lines in it, `steps` its rollout. */
  spec(versions: Record<string, string[]>, extra?: string[], steps?: string): GrpcServiceSpec;
  model(version: string, options?: Omit<GrpcModelOptions, 'version'>): Promise<GrpcModel>;
  /** An in-process gateway with the service on KSERVE_PATH_PREFIX; `extra` lines go into its block, `steps` is its rollout. */
  gateway(versions: Record<string, string[]>, extra?: string[], steps?: string): Promise<Gateway>;
  client(target: string, credentials?: grpc.ChannelCredentials, options?: Partial<grpc.ChannelOptions>): KserveClient;
  /** A ModelInfer call with `metadata`, a 15 s deadline. */
  infer(c: KserveClient, metadata: Record<string, string>, request?: { id?: string; raw_input_contents?: Buffer[] }): Promise<CallResult<ModelInferResponse>>;
}

export function kserveFixture(service: string): KserveFixture {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());
  const spec = (versions: Record<string, string[]>, extra: string[] = [], steps?: string): GrpcServiceSpec => ({
    name: service,
    pathPrefix: KSERVE_PATH_PREFIX,
    versions,
    extra,
    ...(steps === undefined ? {} : { steps }),
  });
  return {
    cleanup,
    spec,
    model: async (version, options = {}) => cleanup.add(await startGrpcModel({ version, ...options })),
    gateway: async (versions, extra = [], steps) => cleanup.add(await startTestGateway(gatewayYaml([spec(versions, extra, steps)]))),
    client: (target, credentials, options) => cleanup.add(kserveClient(target, credentials, options)),
    infer: (c, metadata, request = {}) =>
      unaryCall<ModelInferResponse>((cb) => c.ModelInfer({ model_name: 'scorer', ...request }, metadataOf(metadata), { deadline: deadlineIn(15_000) }, cb)),
  };
}

/** The sum of the samples of `name` whose labels contain every one of `labels` (`version="v2"`), 0 when there is none. */
export function metric(text: string, name: string, labels: readonly string[] = []): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) && labels.every((label) => l.includes(label)))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

export const metricsOf = async (adminUrl: string): Promise<string> => (await fetch(`${adminUrl}/metrics`)).text();

/** Polls /metrics until `name{labels}` reads `value`; returns the text it read last. */
export async function metricReaches(adminUrl: string, name: string, labels: readonly string[], value: number): Promise<string> {
  let text = '';
  await until(async () => {
    text = await metricsOf(adminUrl);
    return metric(text, name, labels) === value;
  }, `${name}{${labels.join(',')}} reaching ${value}`);
  return text;
}
