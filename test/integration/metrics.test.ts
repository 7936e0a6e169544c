import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { initialState } from '../../src/core/rollout-state.js';
import { metricsRouter } from '../../src/http/admin/routes-metrics.js';
import { Metrics } from '../../src/metrics/metrics.js';

const T0 = Date.UTC(2025, 0, 6, 10, 0, 0);
let server: Server | undefined;

afterEach(async () => {
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  server = undefined;
});

/** Every kind of series, with label values that need escaping. */
function exercised(processMetrics: boolean): Metrics {
  const metrics = new Metrics({ clock: { now: () => T0 }, processMetrics });
  const base = initialState({ service: 'fraud-scorer', stable: 'v1', strategy: 'canary', steps: [{ weightBp: 500, bakeMs: 1000 }], now: T0 });
  metrics.onState('fraud-scorer', {
    state: { ...base, candidate: 'v2', phase: 'progressing', weightBp: 500 },
    overrides: new Map([['u1', { service: 'fraud-scorer', key: 'u1', version: 'v2', reason: 'x', author: 'alice', createdAt: T0 - 5000, expiresAt: T0 + 5000 }]]),
  });
  metrics.onState('ranker', { state: initialState({ service: 'ranker', stable: 'blue', strategy: 'blue-green', steps: [], now: T0 }), overrides: new Map() });
  for (const [status, outcome, latencyMs] of [[200, 'ok', 12], [503, 'status', 40], [0, 'connect', 2], [504, 'timeout', 30_000], [499, 'ok', 900]] as const) {
    metrics.observe({ service: 'fraud-scorer', version: status === 200 ? 'v1' : 'v2', key: 'u1', status, outcome, latencyMs });
  }
  metrics.onFallback('fraud-scorer', 'v2', 'v1');
  metrics.onTransition('fraud-scorer', 'rollback', 'ops "night" shift\\team\nB');
  metrics.onTransition('fraud-scorer', 'promote', 'analysis');
  metrics.onTransition('fraud-scorer', 'step', 'analysis');
  metrics.onStoreHealth(true);
  metrics.onSchemaRefused('ranker');
  metrics.onVerdict('fraud-scorer', { result: 'fail', reason: 'r', at: T0, hold: false, checks: [], figures: { errorEvidence: 142.5, latencyEvidence: Infinity } });
  metrics.onLeader(true);
  metrics.onHold('fraud-scorer', { kind: 'sample-ratio', reason: 'candidate share 2% at weight 5%', since: T0 });
  metrics.onAnalysisError('ranker');
  metrics.onRound({ durationMs: 12.5, services: 2, failed: 1 });
  return metrics;
}

async function serve(metrics: Metrics): Promise<string> {
  const app = express();
  app.use(metricsRouter(metrics));
  server = createServer(app);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** promtool exits 1 on a format error and 3 when it only found lint problems (printed one per line). */
function promtool(exposition: string): { status: number | null; problems: string[]; error: string } {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  if (run.error !== undefined) throw new Error(`promtool did not run (${run.error.message}); npm test installs it: apt-get install prometheus`);
  const lines = `${run.stdout}\n${run.stderr}`.split('\n').filter((line) => line.trim() !== '');
  return { status: run.status, problems: lines.filter((l) => !l.startsWith('error')), error: lines.filter((l) => l.startsWith('error')).join('\n') };
}

describe('GET /metrics', () => {
  it('serves the exposition without a token, in the Prometheus text content type', async () => {
    const url = await serve(exercised(true));
    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const body = await res.text();
    expect(body).toContain('switchyard_requests_total{service="fraud-scorer",version="v2",status_class="5xx"} 2');
    expect(body).toContain('switchyard_rollbacks_total{service="fraud-scorer",actor="ops \\"night\\" shift\\\\team\\nB"} 1');
    expect(body).toContain('switchyard_analysis_evidence{service="fraud-scorer",test="latency"} +Inf');
    expect(body).toContain('switchyard_rollout_held{service="fraud-scorer",why="sample-ratio"} 1');
    expect(body).toContain('switchyard_analysis_errors_total{service="ranker"} 1');
    expect(body).toContain('switchyard_analysis_round_seconds_bucket{le="0.025"} 1');
  });

  it('parses as valid Prometheus text and promtool finds nothing to say about our metrics', async () => {
    const url = await serve(exercised(true));
    const body = await (await fetch(`${url}/metrics`)).text();
    const check = promtool(body);
    expect(check.error).toBe('');
    expect(check.status === 0 || check.status === 3).toBe(true);
    expect(check.problems.filter((line) => line.startsWith('switchyard_'))).toEqual([]);
    // What remains comes from prom-client's standard Node.js metrics (gauges named *_total), kept under their usual names for dashboards.
    expect(check.problems.every((line) => line.startsWith('nodejs_') || line.startsWith('process_'))).toBe(true);
  });

  it('passes promtool without a single remark when only our metrics are exported', async () => {
    const check = promtool(await exercised(false).exposition());
    expect(check).toEqual({ status: 0, problems: [], error: '' });
  });

  it('would be caught by the check if the text were broken', () => {
    const check = promtool('switchyard_store_up{broken="1} 1\n');
    expect(check.status).toBe(1);
    expect(check.error).toMatch(/parsing error/);
  });
});
