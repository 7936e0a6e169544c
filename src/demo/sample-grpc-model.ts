import * as grpc from '@grpc/grpc-js';
import { sampleScore } from './sample-backend.js';
import { kserveService, type ModelInferRequest, type ModelInferResponseInput } from './kserve-proto.js';

export interface SampleGrpcModelOptions {
  readonly version: string;
  /** Share of inferences that fail, 0..1. */
  readonly errorRate?: number;
  /** The status a failed ModelInfer ends with: UNAVAILABLE (the default) or INTERNAL. */
  readonly errorCode?: grpc.status.UNAVAILABLE | grpc.status.INTERNAL;
  readonly latencyMs?: number;
  /** Added to every score (clamped to 0..1): a model that predicts a little differently from another. */
  readonly scoreShift?: number;
  readonly host?: string;
  /** 0 (the default) takes a free port. */
  readonly port?: number;
}

export interface SampleGrpcModel {
  /** `http://127.0.0.1:PORT`: plaintext HTTP/2, as a gateway's target. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
  /** Makes the model regress (or heal) at run time; throws a RangeError outside 0..1. */
  setErrorRate(rate: number): void;
  /** Inferences received so far: one per ModelInfer call and one per ModelStreamInfer message. */
  calls(): number;
}

/** The one output of the sample model: its score for the request, an FP32 tensor of shape [1]. */
export const SCORE_OUTPUT = 'score';

/**
 * The gRPC counterpart of the HTTP sample model (src/demo/sample-backend.ts):
 * a KServe v2 GRPCInferenceService on plaintext HTTP/2 that scores any
 * input deterministically and can be made slow, failing or different.
 * Failures are spread evenly (every 1/rate-th inference) so a demo run is
 * repeatable. Every call sends `x-served-by: <version>` as initial metadata
 * and `x-model-version-served: <version>` as trailing metadata, so a test can
 * tell which model answered through a gateway.
 */
export async function startSampleGrpcModel(options: SampleGrpcModelOptions): Promise<SampleGrpcModel> {
  const { version } = options;
  let errorRate = checkedRate(options.errorRate ?? 0);
  const errorCode = options.errorCode ?? grpc.status.UNAVAILABLE;
  const latencyMs = options.latencyMs ?? 0;
  let errorDebt = 0;
  let calls = 0;

  /** Decides now (so answers keep their order) and answers after the latency: the response, or null for a failure. */
  const infer = (request: ModelInferRequest, answer: (response: ModelInferResponseInput | null) => void): void => {
    calls++;
    errorDebt += errorRate;
    const fails = errorDebt >= 1;
    if (fails) errorDebt -= 1;
    const response = fails ? null : scored(request, version, options.scoreShift ?? 0);
    if (latencyMs > 0) setTimeout(() => answer(response), latencyMs);
    else answer(response);
  };
  const initial = () => metadataOf('x-served-by', version);
  const trailing = () => metadataOf('x-model-version-served', version);
  const failure = `model ${version} failed`;

  const server = new grpc.Server();
  server.addService(kserveService, {
    ServerLive: (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<{ live: boolean }>) => callback(null, { live: true }),
    ServerReady: (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<{ ready: boolean }>) => callback(null, { ready: true }),
    ModelReady: (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<{ ready: boolean }>) => callback(null, { ready: true }),
    ModelInfer: (call: grpc.ServerUnaryCall<ModelInferRequest, ModelInferResponseInput>, callback: grpc.sendUnaryData<ModelInferResponseInput>) => {
      call.sendMetadata(initial());
      infer(call.request, (response) => {
        if (response === null) callback({ code: errorCode, details: failure, metadata: trailing() });
        else callback(null, response, trailing());
      });
    },
    ModelStreamInfer: (call: grpc.ServerDuplexStream<ModelInferRequest, { error_message?: string; infer_response?: ModelInferResponseInput }>) => {
      call.sendMetadata(initial());
      // Answers may still be waiting out the latency when the client ends its side; the stream ends after the last.
      let pending = 0;
      let clientEnded = false;
      const endIfDone = () => {
        if (clientEnded && pending === 0 && !call.cancelled) call.end(trailing());
      };
      call.on('data', (request: ModelInferRequest) => {
        pending++;
        infer(request, (response) => {
          pending--;
          if (call.cancelled) return;
          // As Triton does: a failed inference is a message on the stream, not the end of it.
          call.write(response === null ? { error_message: failure } : { infer_response: response });
          endIfDone();
        });
      });
      call.on('end', () => {
        clientEnded = true;
        endIfDone();
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${options.host ?? '127.0.0.1'}:${options.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (error, bound) => (error === null ? resolve(bound) : reject(error))),
  );
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: async () => server.forceShutdown(),
    setErrorRate: (rate) => {
      errorRate = checkedRate(rate);
    },
    calls: () => calls,
  };
}

function checkedRate(rate: number): number {
  if (!(rate >= 0 && rate <= 1)) throw new RangeError(`errorRate must be within 0..1, got ${rate}`);
  return rate;
}

function metadataOf(key: string, value: string): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set(key, value);
  return metadata;
}

/** The same score for the same input tensors in every version, like the HTTP sample's for the same body. */
function scored(request: ModelInferRequest, version: string, scoreShift: number): ModelInferResponseInput {
  const input = JSON.stringify([request.inputs.map((tensor) => tensor.contents), request.raw_input_contents.map((raw) => raw.toString('base64'))]);
  const score = Math.round(Math.min(1, Math.max(0, sampleScore(input) + scoreShift)) * 1000) / 1000;
  return {
    model_name: request.model_name,
    model_version: version,
    id: request.id,
    outputs: [{ name: SCORE_OUTPUT, datatype: 'FP32', shape: [1], contents: { fp32_contents: [score] } }],
  };
}
