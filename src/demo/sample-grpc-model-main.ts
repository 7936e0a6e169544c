#!/usr/bin/env node
// A sample gRPC model server (KServe v2 GRPCInferenceService, plaintext
// HTTP/2) as its own process, like src/demo/sample-backend-main.ts for HTTP:
// PORT (default 9000), VERSION (default v1), ERROR_RATE (0..1, default 0),
// LATENCY_MS (default 0), SCORE_SHIFT (default 0), HOST (default 0.0.0.0).
import { startSampleGrpcModel } from './sample-grpc-model.js';

function numberFrom(name: string, fallback: number, min: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n < min) {
    console.error(`sample-grpc-model: ${name} must be a number of at least ${min}, got "${text}"`);
    process.exit(2);
  }
  return n;
}

const version = process.env.VERSION || 'v1';
const errorRate = Math.min(1, numberFrom('ERROR_RATE', 0, 0));
const latencyMs = numberFrom('LATENCY_MS', 0, 0);
const scoreShift = numberFrom('SCORE_SHIFT', 0, -1);
const model = await startSampleGrpcModel({ version, host: process.env.HOST || '0.0.0.0', port: numberFrom('PORT', 9000, 0), errorRate, latencyMs, scoreShift });
console.log(JSON.stringify({ msg: 'sample gRPC model listening', version, port: model.port, errorRate, latencyMs, scoreShift }));

const stop = () => {
  model.close().then(() => process.exit(0), () => process.exit(1));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
