import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CONTROL_RULES } from '../../src/core/control-rules.js';
import { startSampleBackend, type SampleBackend } from '../../src/demo/sample-backend.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import { admin, configYaml, startTestGateway } from '../helpers/gateway.js';

// A real gateway posting to a real webhook receiver: what an on-call engineer
// hears when a rollout stops moving, and what /metrics shows meanwhile.

const SERVICE = 'fraud-scorer';
const BASE = `/api/v1/services/${SERVICE}`;
/** Short loop settings so a test sees several rounds per second. */
const FAST_LOOP = 'analysis: { interval: 200ms, bucket: 100ms, flush: 100ms, settle: 250ms, baseline: 1s, maxInconclusive: 2 }';
const NO_ANALYSIS = '    analysis: { enabled: false }';

interface Posted {
  event: string;
  service: string;
  actor: string;
  reason: string | null;
  at: string;
  candidate: string | null;
  weight: number;
  step: number;
  phase: string;
  revision: number;
  rule: string | null;
  verdict: { result: string } | null;
  hold?: { kind: string; reason: string; since: string };
}

let cleanup: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const close of cleanup.reverse()) await close();
  cleanup = [];
});

/** A webhook receiver on a free port that keeps every body it is sent. */
async function receiver(): Promise<{ url: string; posted: Posted[] }> {
  const posted: Posted[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      posted.push(JSON.parse(body) as Posted);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => new Promise((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, posted };
}

async function backends(v2Shift = 0): Promise<[SampleBackend, SampleBackend]> {
  const pair = await Promise.all([startSampleBackend({ version: 'v1' }), startSampleBackend({ version: 'v2', scoreShift: v2Shift })]);
  cleanup.push(() => Promise.all(pair.map((b) => b.close())).then(() => undefined));
  return pair;
}

async function gatewayFor(hookUrl: string, serviceExtra: string, steps?: string): Promise<Gateway> {
  const [v1, v2] = await backends(steps === undefined ? 0 : 0.3);
  let yaml = configYaml({ v1: [v1.url], v2: [v2.url] }, `${FAST_LOOP}\nnotifications: { webhooks: [ { url: "${hookUrl}" } ] }`, serviceExtra);
  if (steps !== undefined) yaml = yaml.replace(/steps: \[.*\]/, `steps: ${steps}`);
  const gateway = await startTestGateway(yaml);
  cleanup.push(() => gateway.close());
  return gateway;
}

async function command(gateway: Gateway, path: string, body: unknown = {}): Promise<void> {
  const res = await admin(gateway, 'POST', `${BASE}${path}`, body);
  expect(res.status, await res.clone().text()).toBe(200);
}

/** One sample of the gateway's /metrics, 0 when the series is absent. */
async function metric(gateway: Gateway, series: string): Promise<number> {
  const text = await (await fetch(`${gateway.adminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

const held = (why: string) => `switchyard_rollout_held{service="${SERVICE}",why="${why}"}`;
const ROUNDS = 'switchyard_analysis_round_seconds_count';

/** Waits until `event` was posted `count` times, then returns every post of that event. */
async function posts(posted: Posted[], event: string, count = 1): Promise<Posted[]> {
  await expect.poll(() => posted.filter((p) => p.event === event).length, { timeout: 10_000, interval: 20 }).toBe(count);
  return posted.filter((p) => p.event === event);
}

describe('a pause reaches a human', () => {
  it('posts one pause event naming the operator, and a resume when the operator resumes', async () => {
    const hook = await receiver();
    const gateway = await gatewayFor(hook.url, NO_ANALYSIS);
    await command(gateway, '/rollout', { candidate: 'v2' });
    await command(gateway, '/pause', { reason: 'checking the dashboards' });
    const [pause] = await posts(hook.posted, 'pause');
    expect(pause).toMatchObject({ service: SERVICE, actor: 'ops', reason: 'checking the dashboards', candidate: 'v2', weight: 10, phase: 'paused', rule: null, verdict: null });
    expect(await metric(gateway, held('paused'))).toBe(1);

    await command(gateway, '/resume');
    const [resume] = await posts(hook.posted, 'resume');
    expect(resume).toMatchObject({ actor: 'ops', phase: 'progressing', revision: pause!.revision + 1 });
    // The resume was posted after the pause: had the pause been posted twice, both would be in by now.
    expect(hook.posted.map((p) => p.event)).toEqual(['pause', 'resume']);
    expect(await metric(gateway, held('paused'))).toBe(0);
  });

  it('posts a pause with the weight-0 rule when an operator sets weight 0, and a resume with a weight above 0', async () => {
    const hook = await receiver();
    const gateway = await gatewayFor(hook.url, NO_ANALYSIS);
    await command(gateway, '/rollout', { candidate: 'v2' });
    await command(gateway, '/weight', { weight: 0 });
    const [pause] = await posts(hook.posted, 'pause');
    expect(pause).toMatchObject({ actor: 'ops', weight: 0, phase: 'paused', rule: CONTROL_RULES.weightZeroHolds });

    await command(gateway, '/weight', { weight: 5 });
    const [resume] = await posts(hook.posted, 'resume');
    expect(resume).toMatchObject({ actor: 'ops', weight: 5, phase: 'progressing', rule: CONTROL_RULES.weightResumes });
    expect(hook.posted.map((p) => p.event)).toEqual(['pause', 'resume']);
  });

  it('posts a pause by the analysis, with its verdict, after too many inconclusive verdicts', async () => {
    const hook = await receiver();
    // No traffic and no bake: every round is inconclusive and counts; the second in a row pauses (maxInconclusive: 2).
    const gateway = await gatewayFor(hook.url, '', '[ { weight: 10, bake: 0s }, { weight: 50, bake: 0s } ]');
    await command(gateway, '/rollout', { candidate: 'v2' });
    const [pause] = await posts(hook.posted, 'pause');
    expect(pause).toMatchObject({ actor: 'analysis', phase: 'paused', verdict: { result: 'inconclusive' } });
    expect(pause!.reason).toMatch(/^analysis: 2 inconclusive verdicts in a row/);
    expect(await metric(gateway, held('paused'))).toBe(1);
  });
});

describe('a hold by the analysis reaches a human', () => {
  it('posts one hold event when shadow drift starts holding a shadow step, and shows it in /metrics while it lasts', async () => {
    const hook = await receiver();
    // v2 answers every score 0.3 above v1's: every mirrored pair disagrees, and drift holds the shadow step.
    const gateway = await gatewayFor(hook.url, '    shadow: { prediction: { field: score, kind: score } }', '[ { shadow: 100, bake: 1s }, { weight: 50, bake: 1s } ]');
    let stopped = false;
    const traffic = (async () => {
      for (let i = 0; !stopped; i++) {
        const res = await fetch(`${gateway.proxyUrl}/fraud/score`, { method: 'POST', body: JSON.stringify({ amount: i }), headers: { 'x-user-id': `user-${i % 400}` } });
        await res.arrayBuffer();
      }
    })();
    cleanup.push(() => ((stopped = true), traffic));
    await command(gateway, '/rollout', { candidate: 'v2' });

    const [hold] = await posts(hook.posted, 'hold');
    expect(hold).toMatchObject({ service: SERVICE, actor: 'analysis', candidate: 'v2', weight: 0, step: 0, phase: 'progressing', hold: { kind: 'shadow-drift' } });
    expect(hold!.hold!.since).toBe(hold!.at);
    expect(hold!.reason).toBe(hold!.hold!.reason);
    expect(await metric(gateway, held('shadow-drift'))).toBe(1);

    // Three more rounds judge the same drift: the hold goes on, and is not announced again.
    const rounds = await metric(gateway, ROUNDS);
    await expect.poll(() => metric(gateway, ROUNDS), { timeout: 10_000, interval: 50 }).toBeGreaterThanOrEqual(rounds + 3);
    expect(hook.posted.filter((p) => p.event === 'hold')).toHaveLength(1);
    expect(gateway.routing.view(SERVICE)?.state).toMatchObject({ stepIndex: 0, phase: 'progressing' });
    expect(await metric(gateway, held('shadow-drift'))).toBe(1);
  });
});
