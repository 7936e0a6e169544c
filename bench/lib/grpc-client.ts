import { Metadata, type ServiceError } from '@grpc/grpc-js';
import { createKserveClient, type KserveClient, type ModelInferRequestInput, type ModelInferResponse } from '../../src/demo/kserve-proto.js';

/**
 * The bench's side of KServe v2 gRPC (proto/grpc_predict_v2.proto): one small unary
 * ModelInfer call, the same for every leg, and the checks that run before a proxy is
 * measured.
 */

/**
 * A client on its own HTTP/2 connection: grpc-js shares one connection among clients
 * of the same target unless each keeps a local subchannel pool, and the load is meant
 * to spread over a fixed number of connections.
 */
export function inferenceClient(url: string): KserveClient {
  return createKserveClient(new URL(url).host, undefined, { 'grpc.use_local_subchannel_pool': 1 });
}

/** A few floats: the small request whose cost is mostly the transport's, which is what a proxy adds to. */
const REQUEST: ModelInferRequestInput = {
  model_name: 'bench',
  inputs: [{ name: 'input-0', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: [0.12, 0.5, 0.33, 0.9] } }],
};

/** A call that has not answered in this time fails (and is counted) instead of stalling the run. */
const DEADLINE_MS = 10_000;

export function infer(client: KserveClient, keyHeader: string, key: string): Promise<ModelInferResponse> {
  const metadata = new Metadata();
  metadata.set(keyHeader, key);
  return new Promise((resolve, reject) => {
    client.ModelInfer(REQUEST, metadata, { deadline: Date.now() + DEADLINE_MS }, (err, res) => {
      if (err !== null || res === undefined) reject(err ?? new Error('no answer'));
      else resolve(res);
    });
  });
}

/** The status name and message of a failed call, for the report. */
export function callError(err: unknown): string {
  const e = err as Partial<ServiceError>;
  return typeof e.code === 'number' ? `code ${e.code}: ${e.details ?? e.message ?? ''}` : String(err);
}

export const userKey = (i: number): string => `user-${i + 1}`;

/**
 * Share of `users` answered by `version`, one call per user over one connection:
 * with one proxy process that connection meets the only routing state there is.
 */
export async function versionShare(url: string, users: number, keyHeader: string, version: string): Promise<number> {
  const client = inferenceClient(url);
  let hits = 0;
  let next = 0;
  const worker = async () => {
    while (next < users) {
      const res = await infer(client, keyHeader, userKey(next++));
      if (res.model_version === version) hits++;
    }
  };
  try {
    await Promise.all(Array.from({ length: 32 }, worker));
  } finally {
    client.close();
  }
  return hits / users;
}

/** Calls until one answers or `timeoutMs` passes: a proxy is up and reaches a backend. */
export async function pollUntilAnswers(url: string, keyHeader: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    const client = inferenceClient(url);
    try {
      await infer(client, keyHeader, 'ready-probe');
      return;
    } catch (err) {
      last = callError(err);
    } finally {
      client.close();
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} answered no ModelInfer call in ${timeoutMs} ms (${last})`);
}
