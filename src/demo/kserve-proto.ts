import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

/**
 * The KServe v2 proto. The same relative path holds from `src/demo/`
 * (run through tsx or vitest) and from `dist/src/demo/`, where
 * scripts/copy-assets.mjs puts the proto in `dist/proto/`.
 */
export const KSERVE_PROTO_PATH = fileURLToPath(new URL('../../proto/grpc_predict_v2.proto', import.meta.url));

/** A tensor's elements in the field that matches its datatype; 64-bit integers are decimal strings (`longs: String`). */
export interface InferTensorContents {
  bool_contents: boolean[];
  int_contents: number[];
  int64_contents: string[];
  uint_contents: number[];
  uint64_contents: string[];
  fp32_contents: number[];
  fp64_contents: number[];
  bytes_contents: Buffer[];
}

/** One parameter value; `parameter_choice` names the field that is set (`oneofs: true`). */
export interface InferParameter {
  parameter_choice?: 'bool_param' | 'int64_param' | 'string_param' | 'double_param' | 'uint64_param';
  bool_param?: boolean;
  int64_param?: string;
  string_param?: string;
  double_param?: number;
  uint64_param?: string;
}

/** An input or output tensor as decoded; `contents` is null when the data is in the raw bytes instead. */
export interface InferTensor {
  name: string;
  datatype: string;
  shape: string[];
  parameters: Record<string, InferParameter>;
  contents: InferTensorContents | null;
}

/** ModelInferRequest as decoded (`defaults: true` fills every field). */
export interface ModelInferRequest {
  model_name: string;
  model_version: string;
  id: string;
  parameters: Record<string, InferParameter>;
  inputs: InferTensor[];
  outputs: { name: string; parameters: Record<string, InferParameter> }[];
  raw_input_contents: Buffer[];
}

/** ModelInferResponse as decoded. */
export interface ModelInferResponse {
  model_name: string;
  model_version: string;
  id: string;
  parameters: Record<string, InferParameter>;
  outputs: InferTensor[];
  raw_output_contents: Buffer[];
}

/** One answer on a ModelStreamInfer stream: a failed request has an `error_message` and no response. */
export interface ModelStreamInferResponse {
  error_message: string;
  infer_response: ModelInferResponse | null;
}

/** What a sender writes: any field may be left out and numbers may stand for 64-bit integers. */
export interface ModelInferRequestInput {
  model_name?: string;
  model_version?: string;
  id?: string;
  parameters?: Record<string, Partial<InferParameter>>;
  inputs?: { name: string; datatype: string; shape: (number | string)[]; contents?: Partial<InferTensorContents> }[];
  outputs?: { name: string }[];
  raw_input_contents?: Buffer[];
}

/** The sender's view of a ModelInferResponse, for servers. */
export interface ModelInferResponseInput {
  model_name?: string;
  model_version?: string;
  id?: string;
  outputs?: { name: string; datatype: string; shape: (number | string)[]; contents?: Partial<InferTensorContents> }[];
  raw_output_contents?: Buffer[];
}

type Unary<Req, Res> = (request: Req, metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, callback: grpc.requestCallback<Res>) => grpc.ClientUnaryCall;

/** A GRPCInferenceService client with the message types above, since a client made from a loaded proto is untyped. */
export interface KserveClient extends grpc.Client {
  ServerLive: Unary<Record<string, never>, { live: boolean }>;
  ServerReady: Unary<Record<string, never>, { ready: boolean }>;
  ModelReady: Unary<{ name: string; version?: string }, { ready: boolean }>;
  ModelInfer: Unary<ModelInferRequestInput, ModelInferResponse>;
  ModelStreamInfer(metadata?: grpc.Metadata, options?: Partial<grpc.CallOptions>): grpc.ClientDuplexStream<ModelInferRequestInput, ModelStreamInferResponse>;
}

// Loaded once at import: the proto is small and the definition never changes.
const packageDefinition = loadSync(KSERVE_PROTO_PATH, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
const inference = grpc.loadPackageDefinition(packageDefinition)['inference'] as grpc.GrpcObject;
const ServiceClient = inference['GRPCInferenceService'] as grpc.ServiceClientConstructor;

/** The service definition a grpc-js Server implements (`server.addService(kserveService, handlers)`). */
export const kserveService: grpc.ServiceDefinition = ServiceClient.service;

/** The HTTP/2 path prefix of every call of the service (`/package.Service/Method`), which a gateway routes gRPC inference on. */
export const KSERVE_PATH_PREFIX = '/inference.GRPCInferenceService';

/**
 * A typed client for `target` (`host:port`). Plaintext HTTP/2 (h2c) unless
 * `credentials` say otherwise, as model servers inside a cluster usually are.
 */
export function createKserveClient(target: string, credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(), options?: Partial<grpc.ChannelOptions>): KserveClient {
  return new ServiceClient(target, credentials, options) as unknown as KserveClient;
}
