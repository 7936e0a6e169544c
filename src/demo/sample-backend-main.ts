#!/usr/bin/env node
// A sample model server as its own process, for docker-compose: PORT (default
// 9000), VERSION (default v1), ERROR_RATE (0..1, default 0), LATENCY_MS
// (default 0), HOST (default 0.0.0.0). Make it regress at run time with
// `curl -X POST host:PORT/_control -d '{"errorRate":1}'`.
import { startSampleBackend } from './sample-backend.js';

function numberFrom(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) {
    console.error(`sample-backend: ${name} must be a non-negative number, got "${text}"`);
    process.exit(2);
  }
  return n;
}

const version = process.env.VERSION || 'v1';
const backend = await startSampleBackend({
  version,
  host: process.env.HOST || '0.0.0.0',
  port: numberFrom('PORT', 9000),
  errorRate: Math.min(1, numberFrom('ERROR_RATE', 0)),
  latencyMs: numberFrom('LATENCY_MS', 0),
});
console.log(JSON.stringify({ msg: 'sample model listening', version, port: backend.port, ...backend.behaviour }));

const stop = () => {
  backend.close().then(() => process.exit(0), () => process.exit(1));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
