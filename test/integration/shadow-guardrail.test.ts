import { afterEach, describe, expect, it } from 'vitest';
import { startSampleBackend, type SampleBackend } from '../../src/demo/sample-backend.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import { admin, configYaml, startTestGateway } from '../helpers/gateway.js';

const SERVICE = 'fraud-scorer';
/** Short loop settings so a test sees several rounds per second. */
const FAST_LOOP = `
analysis: { interval: 200ms, bucket: 100ms, flush: 100ms, settle: 250ms, baseline: 1s }`;
/** Small-sample thresholds for a test's few hundred requests, the sample model's scores kept within [0, 1] by a guardrail. */
const SERVICE_EXTRA = `    analysis: { minCandidateRequests: 30, latencyEnabled: false, srmMinExpected: 1000 }
    guardrail: { field: score, min: 0, max: 1 }
    shadow: { prediction: { field: score, kind: score } }`;
/**
 * A step passes once baked on enough compared requests without evidence against the candidate, so a
 * shadow step meant to be failed bakes long enough for the evidence to build however slowly a busy
 * machine sends the traffic; one meant to pass bakes a second.
 */
const shadowFirst = (bake: string) => `[ { shadow: 100, bake: ${bake} }, { weight: 50, bake: 1s } ]`;

let cleanup: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const close of cleanup.reverse()) await close();
  cleanup = [];
});

async function gatewayWithShadowStep(bake: string): Promise<{ gateway: Gateway; v2: SampleBackend }> {
  const [v1, v2] = await Promise.all([startSampleBackend({ version: 'v1' }), startSampleBackend({ version: 'v2' })]);
  cleanup.push(() => Promise.all([v1.close(), v2.close()]).then(() => undefined));
  const yaml = configYaml({ v1: [v1.url], v2: [v2.url] }, FAST_LOOP, SERVICE_EXTRA).replace(/steps: \[.*\]/, `steps: ${shadowFirst(bake)}`);
  const gateway = await startTestGateway(yaml);
  cleanup.push(() => gateway.close());
  return { gateway, v2 };
}

/** Many users, steady pace, until stopped; remembers which version served each request and its body. */
function traffic(gateway: Gateway) {
  let stopped = false;
  const served: Array<{ version: string | null; status: number; score: unknown }> = [];
  const loops = Array.from({ length: 6 }, async (_, w) => {
    for (let i = 0; !stopped; i++) {
      const res = await fetch(`${gateway.proxyUrl}/fraud/score`, { method: 'POST', body: `{"n":${i}}`, headers: { 'x-user-id': `user-${w}-${i % 400}` } });
      const body = (await res.json()) as { score?: unknown };
      served.push({ version: res.headers.get('x-model-version'), status: res.status, score: body.score });
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  });
  return { served, stop: () => ((stopped = true), Promise.all(loops)) };
}

async function shadowOutcomes(gateway: Gateway, outcome: string): Promise<number> {
  const text = await (await fetch(`${gateway.adminUrl}/metrics`)).text();
  const match = new RegExp(`^switchyard_shadow_requests_total\\{service="${SERVICE}",version="v2",outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text);
  return Number(match?.[1] ?? 0);
}

describe('the prediction guardrail on a shadow step', () => {
  it('rolls back a candidate whose shadow answers 200 with scores above 1 on 15 % of requests, before any client sees it', async () => {
    const { gateway, v2 } = await gatewayWithShadowStep('60s');
    v2.behaviour.outOfRangeRate = 0.15;
    const load = traffic(gateway);
    cleanup.push(() => load.stop().then(() => undefined));
    await admin(gateway, 'POST', `/api/v1/services/${SERVICE}/rollout`, { candidate: 'v2' });
    expect(gateway.routing.view(SERVICE)?.state).toMatchObject({ weightBp: 0, shadow: { version: 'v2' } });

    await expect.poll(() => gateway.routing.view(SERVICE)?.state.phase, { timeout: 60_000, interval: 50 }).toBe('rolled_back');
    const state = gateway.routing.view(SERVICE)?.state;
    console.log(`rolled back: ${state?.reason}`);
    expect(state?.stepIndex).toBe(0);
    expect(state?.shadow).toBeNull();
    // The shadow's guardrail violations are its errors against stable's answers to the same requests.
    expect(state?.reason).toMatch(/^analysis: shadow v2 failed against stable on the same requests: candidate error rate [\d.]+% vs stable 0\.0%/);
    await load.stop();
    expect(load.served.length).toBeGreaterThan(20);
    expect(load.served.every((r) => r.version === 'v1' && r.status === 200 && typeof r.score === 'number' && r.score >= 0 && r.score <= 1)).toBe(true);
    expect(await shadowOutcomes(gateway, 'guardrail')).toBeGreaterThan(0);
    expect(await shadowOutcomes(gateway, 'status')).toBe(0);
    const audit = (await (await admin(gateway, 'GET', `/api/v1/audit?service=${SERVICE}&limit=5`)).json()) as {
      entries: Array<{ actor: string; action: string; verdict: { shadow: { result: string; drift: { figures: Record<string, number> } | null } | null } | null }>;
    };
    const rollback = audit.entries.find((e) => e.action === 'rollback');
    expect(rollback).toMatchObject({ actor: 'analysis', verdict: { shadow: { result: 'fail' } } });
    // The impossible scores also reach the drift figures, in a bin of their own.
    expect(rollback?.verdict?.shadow?.drift?.figures).toMatchObject({ stableOutOfRange: 0, psiBins: 11 });
    expect(rollback?.verdict?.shadow?.drift?.figures.shadowOutOfRange).toBeGreaterThan(0.05);
  }, 90_000);

  it('passes the shadow step of a candidate whose scores stay within the guardrail', async () => {
    const { gateway } = await gatewayWithShadowStep('1s');
    const load = traffic(gateway);
    cleanup.push(() => load.stop().then(() => undefined));
    await admin(gateway, 'POST', `/api/v1/services/${SERVICE}/rollout`, { candidate: 'v2' });

    await expect.poll(() => gateway.routing.view(SERVICE)?.state.stepIndex, { timeout: 10_000, interval: 50 }).toBe(1);
    expect(gateway.routing.view(SERVICE)?.state.reason).toMatch(/^analysis: step 1 passed: shadow v2/);
    await load.stop();
    expect(await shadowOutcomes(gateway, 'ok')).toBeGreaterThan(0);
    expect(await shadowOutcomes(gateway, 'guardrail')).toBe(0);
  });
});
