import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CONTROL_RULES } from '../../src/core/control-rules.js';
import { startSampleBackend, type SampleBackend } from '../../src/demo/sample-backend.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import { admin, configYaml, startTestGateway } from '../helpers/gateway.js';

const SERVICE = 'fraud-scorer';
/** Short loop settings so a test sees several rounds per second. */
const FAST_LOOP = `
analysis: { interval: 200ms, bucket: 100ms, flush: 100ms, settle: 250ms, baseline: 1s }`;
/** Small-sample thresholds for a test's few hundred requests; latency is judged elsewhere. */
const SMALL_SAMPLE = `    analysis: { minCandidateRequests: 30, latencyEnabled: false, srmMinExpected: 1000 }`;

let cleanup: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const close of cleanup.reverse()) await close();
  cleanup = [];
});

async function backends(): Promise<[SampleBackend, SampleBackend]> {
  const pair = await Promise.all([startSampleBackend({ version: 'v1' }), startSampleBackend({ version: 'v2' })]);
  cleanup.push(() => Promise.all(pair.map((b) => b.close())).then(() => undefined));
  return pair;
}

async function gatewayFor(v1: SampleBackend, v2: SampleBackend, extra = '', steps?: string): Promise<Gateway> {
  let yaml = configYaml({ v1: [v1.url], v2: [v2.url] }, `${FAST_LOOP}\n${extra}`, SMALL_SAMPLE);
  if (steps !== undefined) yaml = yaml.replace(/steps: \[.*\]/, `steps: ${steps}`);
  const gateway = await startTestGateway(yaml);
  cleanup.push(() => gateway.close());
  return gateway;
}

/** Many users, steady pace, until stopped; remembers which version served each request, when it was sent and when answered. */
function traffic(gateway: Gateway) {
  let stopped = false;
  const served: Array<{ sentAt: number; at: number; version: string | null; status: number }> = [];
  const loops = Array.from({ length: 6 }, async (_, w) => {
    for (let i = 0; !stopped; i++) {
      const sentAt = Date.now();
      const res = await fetch(`${gateway.proxyUrl}/fraud/score`, { method: 'POST', body: '{}', headers: { 'x-user-id': `user-${w}-${i % 400}` } });
      await res.arrayBuffer();
      served.push({ sentAt, at: Date.now(), version: res.headers.get('x-model-version'), status: res.status });
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  });
  return { served, stop: () => ((stopped = true), Promise.all(loops)) };
}

describe('analysis loop with real HTTP backends', () => {
  it('rolls a candidate back within seconds when it starts failing half its requests, then serves stable only', async () => {
    const [v1, v2] = await backends();
    const gateway = await gatewayFor(v1, v2);
    const load = traffic(gateway);
    cleanup.push(() => load.stop().then(() => undefined));
    await admin(gateway, 'POST', `/api/v1/services/${SERVICE}/rollout`, { candidate: 'v2' });
    await admin(gateway, 'POST', `/api/v1/services/${SERVICE}/weight`, { weight: 30 });
    v2.behaviour.errorRate = 0.5;
    const broke = Date.now();

    await expect.poll(() => gateway.routing.view(SERVICE)?.state.phase, { timeout: 8000, interval: 50 }).toBe('rolled_back');
    const rolledBackAfterMs = Date.now() - broke;
    const state = (await (await admin(gateway, 'GET', `/api/v1/services/${SERVICE}`)).json()) as {
      reason: string;
      lastVerdict: { result: string; checks: unknown[] };
    };
    console.log(`rolled back ${rolledBackAfterMs} ms after the candidate started failing: ${state.reason}`);
    expect(state.reason).toMatch(/^analysis: /);
    expect(state.lastVerdict.result).toBe('fail');
    expect(state.lastVerdict.checks.length).toBeGreaterThan(0);

    const after = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 500));
    await load.stop();
    // Sent after the rollback was seen: a request in flight before it may still finish on v2.
    const later = load.served.filter((r) => r.sentAt > after);
    expect(later.length).toBeGreaterThan(20);
    expect(later.every((r) => r.version === 'v1' && r.status === 200)).toBe(true);

    const audit = (await (await admin(gateway, 'GET', `/api/v1/audit?service=${SERVICE}&limit=5`)).json()) as {
      entries: Array<{ actor: string; action: string }>;
    };
    expect(audit.entries[0]).toMatchObject({ actor: 'analysis', action: 'rollback' });
    const metrics = await (await fetch(`${gateway.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/switchyard_rollbacks_total\{service="fraud-scorer",actor="analysis"\} 1/);
  });

  it('advances a healthy candidate through two short steps and promotes it', async () => {
    const [v1, v2] = await backends();
    const gateway = await gatewayFor(v1, v2, '', '[ { weight: 20, bake: 1s }, { weight: 50, bake: 1s } ]');
    const load = traffic(gateway);
    cleanup.push(() => load.stop().then(() => undefined));
    await admin(gateway, 'POST', `/api/v1/services/${SERVICE}/rollout`, { candidate: 'v2' });

    await expect.poll(() => gateway.routing.view(SERVICE)?.state.stepIndex, { timeout: 10_000, interval: 50 }).toBe(1);
    expect(gateway.routing.view(SERVICE)?.state.weightBp).toBe(5000);
    await expect.poll(() => gateway.routing.view(SERVICE)?.state.phase, { timeout: 10_000, interval: 50 }).toBe('promoted');
    expect(gateway.routing.view(SERVICE)?.state).toMatchObject({ stable: 'v2', previous: 'v1', candidate: null });
    await load.stop();
    expect(load.served.every((r) => r.status === 200)).toBe(true);
  });
});

describe('analysis of a shadow step', () => {
  const SHADOW_FIRST = '[ { shadow: 100, bake: 1s }, { weight: 50, bake: 1s } ]';

  it('judges the candidate in the dark on mirrored traffic, then gives it live traffic', async () => {
    const [v1, v2] = await backends();
    const gateway = await gatewayFor(v1, v2, '', SHADOW_FIRST);
    const load = traffic(gateway);
    cleanup.push(() => load.stop().then(() => undefined));
    await admin(gateway, 'POST', `/api/v1/services/${SERVICE}/rollout`, { candidate: 'v2' });
    expect(gateway.routing.view(SERVICE)?.state).toMatchObject({ weightBp: 0, shadow: { version: 'v2', sampleBp: 10000 } });
    const started = Date.now();

    await expect.poll(() => gateway.routing.view(SERVICE)?.state.stepIndex, { timeout: 10_000, interval: 50 }).toBe(1);
    const state = gateway.routing.view(SERVICE)?.state;
    expect(state).toMatchObject({ weightBp: 5000, shadow: null });
    expect(state?.reason).toMatch(/^analysis: step 1 passed: shadow v2/);
    // The verdict behind the advance is the shadow's, kept in the audit entry of the move.
    const audit = (await (await admin(gateway, 'GET', `/api/v1/audit?service=${SERVICE}&limit=20`)).json()) as {
      entries: Array<{ at: string; action: string; actor: string; rule: string | null; verdict: { shadow: unknown } | null }>;
    };
    const advance = audit.entries.find((e) => e.action === 'advance');
    const advancedAt = Date.parse(advance?.at ?? '');
    expect(advance).toMatchObject({ actor: 'analysis', rule: CONTROL_RULES.judgedAdvance });
    expect(advance?.verdict?.shadow).toMatchObject({ version: 'v2', result: 'pass' });
    await load.stop();
    // While the candidate was only shadowed, every client was answered by stable: every request sent after the
    // shadow started and answered before the analysis decided to advance (the audit entry's time).
    const dark = load.served.filter((r) => r.sentAt > started && r.at < advancedAt);
    expect(dark.length).toBeGreaterThan(20);
    expect(dark.every((r) => r.version === 'v1' && r.status === 200)).toBe(true);
  });

  it('rolls a candidate whose shadow fails back before any client sees it', async () => {
    const [v1, v2] = await backends();
    v2.behaviour.errorRate = 0.5;
    const gateway = await gatewayFor(v1, v2, '', SHADOW_FIRST);
    const load = traffic(gateway);
    cleanup.push(() => load.stop().then(() => undefined));
    await admin(gateway, 'POST', `/api/v1/services/${SERVICE}/rollout`, { candidate: 'v2' });

    await expect.poll(() => gateway.routing.view(SERVICE)?.state.phase, { timeout: 10_000, interval: 50 }).toBe('rolled_back');
    const state = gateway.routing.view(SERVICE)?.state;
    expect(state?.reason).toMatch(/^analysis: shadow v2 failed against stable on the same requests/);
    expect(state?.shadow).toBeNull();
    await load.stop();
    expect(load.served.every((r) => r.version === 'v1' && r.status === 200)).toBe(true);
    const metrics = await (await fetch(`${gateway.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/switchyard_shadow_verdicts_total\{service="fraud-scorer",version="v2",result="fail"\} [1-9]/);
  });
});

describe('Alertmanager webhook', () => {
  it('rolls back a firing service and announces it on the outgoing webhook', async () => {
    const received: unknown[] = [];
    const hook: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        received.push(JSON.parse(body));
        res.end();
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise((resolve) => hook.close(() => resolve())));
    const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;

    const [v1, v2] = await backends();
    const gateway = await gatewayFor(v1, v2, `notifications: { webhooks: [ { url: "${hookUrl}" } ] }`);
    await admin(gateway, 'POST', `/api/v1/services/${SERVICE}/rollout`, { candidate: 'v2' });

    // The payload Alertmanager 0.25 posts (webhook version 4).
    const payload = {
      receiver: 'switchyard',
      status: 'firing',
      alerts: [
        {
          status: 'firing',
          labels: { alertname: 'CandidateErrorRatioHigh', service: SERVICE, version: 'v2', severity: 'page' },
          annotations: { summary: 'v2 error ratio 12% over 2m' },
          startsAt: '2026-11-25T12:00:00.000Z',
          endsAt: '0001-01-01T00:00:00Z',
          generatorURL: 'http://prometheus:9090/graph?g0.expr=...',
          fingerprint: 'c0ffee',
        },
        { status: 'firing', labels: { alertname: 'Other', service: 'no-such-service' }, annotations: {}, startsAt: '2026-11-25T12:00:00.000Z' },
        { status: 'resolved', labels: { alertname: 'Old', service: SERVICE }, annotations: {}, startsAt: '2026-11-25T11:00:00.000Z' },
      ],
      groupLabels: { alertname: 'CandidateErrorRatioHigh' },
      commonLabels: { alertname: 'CandidateErrorRatioHigh', service: SERVICE },
      commonAnnotations: {},
      externalURL: 'http://alertmanager:9093',
      version: '4',
      groupKey: '{}:{alertname="CandidateErrorRatioHigh"}',
      truncatedAlerts: 0,
    };
    const res = await admin(gateway, 'POST', '/api/v1/alerts/alertmanager', payload);
    expect(res.status).toBe(200);
    const { results } = (await res.json()) as { results: Array<{ outcome: string; service: string | null }> };
    expect(results.map((r) => r.outcome)).toEqual(['rolled_back', 'unknown_service', 'ignored']);
    expect(gateway.routing.view(SERVICE)?.state).toMatchObject({ phase: 'rolled_back', reason: 'alert CandidateErrorRatioHigh: v2 error ratio 12% over 2m' });

    await expect.poll(() => received.length, { timeout: 3000 }).toBe(1);
    expect(received[0]).toMatchObject({ event: 'rollback', service: SERVICE, actor: 'ops', candidate: 'v2', reason: 'alert CandidateErrorRatioHigh: v2 error ratio 12% over 2m' });

    // Switchyard's own "a rollout waits for a person" alert never rolls anything back.
    await admin(gateway, 'POST', `/api/v1/services/${SERVICE}/rollout`, { candidate: 'v2' });
    const held = { ...payload, alerts: [{ status: 'firing', labels: { alertname: 'SwitchyardRolloutHeld', service: SERVICE, why: 'paused' }, annotations: {}, startsAt: '2026-11-25T12:00:00.000Z' }] };
    const heldRes = (await (await admin(gateway, 'POST', '/api/v1/alerts/alertmanager', held)).json()) as { results: Array<{ outcome: string }> };
    expect(heldRes.results.map((r) => r.outcome)).toEqual(['ignored']);
    expect(gateway.routing.view(SERVICE)?.state.phase).toBe('progressing');

    const bad = await admin(gateway, 'POST', '/api/v1/alerts/alertmanager', { ...payload, version: '3' });
    expect(bad.status).toBe(400);
    const readOnly = await admin(gateway, 'POST', '/api/v1/alerts/alertmanager', payload, 'test-read-token-0123456789abc');
    expect(readOnly.status).toBe(403);
  });
});
