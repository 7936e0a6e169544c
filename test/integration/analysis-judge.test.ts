import { afterEach, describe, expect, it } from 'vitest';
import { startSampleBackend, type SampleBackend } from '../../src/demo/sample-backend.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import { admin, configYaml, startTestGateway } from '../helpers/gateway.js';

/**
 * The judge as an operator meets it: a real gateway in front of real sample
 * model servers, live traffic from many sticky users, rollouts started through
 * the admin API, and only what the API shows is checked.
 */

const SERVICE = 'fraud-scorer';
const FAST_LOOP = `
analysis: { interval: 200ms, bucket: 100ms, flush: 100ms, settle: 250ms, baseline: 2s }`;

let cleanup: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const close of cleanup.reverse()) await close();
  cleanup = [];
});

async function backends(latencyMs: number, candidateLatencyMs = latencyMs): Promise<[SampleBackend, SampleBackend]> {
  const pair = await Promise.all([startSampleBackend({ version: 'v1', latencyMs }), startSampleBackend({ version: 'v2', latencyMs: candidateLatencyMs })]);
  cleanup.push(() => Promise.all(pair.map((b) => b.close())).then(() => undefined));
  return pair;
}

async function gateway(v1: SampleBackend, v2: SampleBackend, steps: string, analysis: string): Promise<Gateway> {
  const yaml = configYaml({ v1: [v1.url], v2: [v2.url] }, FAST_LOOP, `    analysis: ${analysis}`).replace(/steps: \[.*\]/, `steps: ${steps}`);
  const g = await startTestGateway(yaml);
  cleanup.push(() => g.close());
  return g;
}

/** Eight clients cycling over 2,400 sticky users until stopped. */
function traffic(g: Gateway): { stop(): Promise<void>; statuses: number[] } {
  let stopped = false;
  const statuses: number[] = [];
  const loops = Array.from({ length: 8 }, async (_, w) => {
    for (let i = 0; !stopped; i++) {
      const res = await fetch(`${g.proxyUrl}/fraud/score`, { method: 'POST', body: `{"n":${i}}`, headers: { 'x-user-id': `user-${w}-${i % 300}` } });
      await res.arrayBuffer();
      statuses.push(res.status);
    }
  });
  const stop = async () => {
    stopped = true;
    await Promise.all(loops);
  };
  cleanup.push(stop);
  return { stop, statuses };
}

interface ServiceBody {
  readonly phase: string;
  readonly step: number;
  readonly weight: number;
  readonly reason: string | null;
  readonly lastVerdict: { readonly result: string; readonly reason: string; readonly figures: Record<string, number> } | null;
}

async function service(g: Gateway): Promise<ServiceBody> {
  return (await (await admin(g, 'GET', `/api/v1/services/${SERVICE}`)).json()) as ServiceBody;
}

async function auditActions(g: Gateway): Promise<string[]> {
  const body = (await (await admin(g, 'GET', `/api/v1/audit?service=${SERVICE}&limit=50`)).json()) as { entries: Array<{ action: string; actor: string }> };
  return body.entries.reverse().map((e) => `${e.actor}:${e.action}`);
}

describe('the judge with real model servers', () => {
  it('promotes a healthy candidate although both versions slow down 2× together right after a step change', async () => {
    const [v1, v2] = await backends(10);
    const g = await gateway(
      v1,
      v2,
      '[ { weight: 20, bake: 3s }, { weight: 50, bake: 3s }, { weight: 100, bake: 2s } ]',
      '{ latencyWarmupMs: 1000, minCandidateRequests: 60, msprtBurnIn: 100, latencyBaselineMinRequests: 300, srmMinExpected: 1000000 }',
    );
    const load = traffic(g);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    await admin(g, 'POST', `/api/v1/services/${SERVICE}/rollout`, { candidate: 'v2' });
    await expect.poll(async () => (await service(g)).step, { timeout: 30_000, interval: 50 }).toBe(1);
    // A shared slowdown: load, a shared dependency. Pooled over the rollout it looked like the candidate's fault.
    v1.behaviour.latencyMs = 20;
    v2.behaviour.latencyMs = 20;
    let judgedAtFifty: ServiceBody | null = null;
    await expect
      .poll(
        async () => {
          const s = await service(g);
          if (s.step === 1 && s.lastVerdict?.result === 'pass') judgedAtFifty = s;
          return s.phase;
        },
        { timeout: 60_000, interval: 100 },
      )
      .toBe('promoted');
    await load.stop();
    expect(await auditActions(g)).toEqual(['config:init', 'ops:start', 'analysis:advance', 'analysis:advance', 'analysis:advance']);
    const ratio = (judgedAtFifty as ServiceBody | null)?.lastVerdict?.figures['latencyMeanRatio'];
    expect(ratio).toBeGreaterThan(0.8);
    expect(ratio).toBeLessThan(1.25);
    expect(load.statuses.every((s) => s === 200)).toBe(true);
  }, 120_000);

  it('rolls back a 1.5× slower candidate at its first step although the step bakes only 20 s (the 30 s latency warm-up is folded in)', async () => {
    const [v1, v2] = await backends(20, 30);
    const g = await gateway(
      v1,
      v2,
      '[ { weight: 10, bake: 20s }, { weight: 50, bake: 20s }, { weight: 100, bake: 20s } ]',
      '{ latencyBaselineMinRequests: 300 }',
    );
    const load = traffic(g);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    await admin(g, 'POST', `/api/v1/services/${SERVICE}/rollout`, { candidate: 'v2' });
    const seen = new Set<string>();
    await expect
      .poll(
        async () => {
          const s = await service(g);
          if (s.lastVerdict !== null) seen.add(s.lastVerdict.result);
          return s.phase;
        },
        { timeout: 90_000, interval: 200 },
      )
      .toBe('rolled_back');
    await load.stop();
    const s = await service(g);
    expect(s.step).toBe(0);
    expect(s.reason).toMatch(/^analysis: candidate .*latency/);
    expect(seen.has('pass')).toBe(false);
    expect(await auditActions(g)).toEqual(['config:init', 'ops:start', 'analysis:rollback']);
  }, 120_000);
});
