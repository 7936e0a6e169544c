import * as grpc from '@grpc/grpc-js';
import type { TrafficTally } from './traffic.js';
import { createKserveClient, type KserveClient } from './kserve-proto.js';

/** Long enough for a slow model, short enough that stopping never waits on a stuck call for long. */
const CALL_DEADLINE_MS = 2000;

export interface GrpcTrafficOptions {
  readonly rps: number;
  readonly users: number;
  /** The metadata key that carries the user, the service's stickiness header (e.g. `x-user-id`). */
  readonly header: string;
  readonly signal: AbortSignal;
  readonly tally: () => TrafficTally;
  readonly random?: () => number;
}

/**
 * The gRPC counterpart of `generateTraffic`: sends `rps` ModelInfer calls per
 * second to the gateway at `target` (`host:port`), each from a random one of
 * `users` user keys, until `signal` aborts, then waits for the calls in
 * flight (each has a deadline) and closes the channel. Counts each call under
 * the version the gateway names in `x-model-version`, and every non-OK status
 * as an error.
 */
export async function generateGrpcTraffic(target: string, options: GrpcTrafficOptions): Promise<void> {
  const random = options.random ?? Math.random;
  const client = createKserveClient(target);
  const maxInFlight = Math.max(4, options.rps);
  const intervalMs = 1000 / options.rps;
  const inFlight = new Set<Promise<void>>();
  try {
    while (!options.signal.aborted) {
      if (inFlight.size < maxInFlight) {
        const call = inferOnce(client, options, `user-${Math.floor(random() * options.users)}`, random());
        inFlight.add(call);
        void call.finally(() => inFlight.delete(call));
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
    await Promise.all(inFlight);
  } finally {
    client.close();
  }
}

/** One call; settles (never rejects) once its status arrived and was counted. */
function inferOnce(client: KserveClient, options: GrpcTrafficOptions, user: string, feature: number): Promise<void> {
  return new Promise((resolve) => {
    const metadata = new grpc.Metadata();
    metadata.set(options.header, user);
    const request = { model_name: 'score', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 1], contents: { fp32_contents: [feature] } }] };
    let version: string | undefined;
    // The outcome is read from the status event, which also carries the trailers; the callback has nothing to add.
    const call = client.ModelInfer(request, metadata, { deadline: Date.now() + CALL_DEADLINE_MS }, () => undefined);
    call.on('metadata', (initial: grpc.Metadata) => {
      version = firstValue(initial, 'x-model-version');
    });
    call.on('status', (status: grpc.StatusObject) => {
      // A trailers-only answer (an error the gateway made itself) names the version in the trailers, if at all.
      const served = version ?? firstValue(status.metadata, 'x-model-version') ?? 'none';
      const tally = options.tally();
      tally.byVersion.set(served, (tally.byVersion.get(served) ?? 0) + 1);
      tally.total++;
      if (status.code !== grpc.status.OK) tally.errors++;
      resolve();
    });
  });
}

function firstValue(metadata: grpc.Metadata, key: string): string | undefined {
  const value = metadata.get(key)[0];
  return value === undefined ? undefined : value.toString();
}
