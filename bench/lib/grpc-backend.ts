import { startSampleGrpcModel } from '../../src/demo/sample-grpc-model.js';
import { answerStats } from './proc-stats.js';

/**
 * One gRPC model backend for bench/grpc, in its own process: the sample KServe v2 model
 * (src/demo) of the version named by the first argument. Reports its CPU and the
 * ModelInfer calls it served since the last reset.
 */
const version = process.argv[2] ?? 'v1';
const model = await startSampleGrpcModel({ version });
let callsAtReset = model.calls();
answerStats(() => {
  const calls = model.calls() - callsAtReset;
  callsAtReset = model.calls();
  return { calls };
});
process.send?.({ type: 'ready', url: model.url });
