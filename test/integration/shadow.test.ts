import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { summariseComparison } from '../../src/core/shadow/comparison.js';
import { shadowBaseSeries, shadowCompareSeries, shadowSeries } from '../../src/core/shadow/series.js';
import { mergeArms, EMPTY_ARM } from '../../src/core/analysis/window.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import { admin, configYaml, startTestGateway } from '../helpers/gateway.js';

/** A model server whose answer is a function of the request; it records what it got and how many were in flight at most. */
interface Model {
  readonly url: string;
  readonly server: Server;
  copies: number;
  live: number;
  inFlight: number;
  maxInFlight: number;
  readonly bodies: string[];
}

type Answer = (user: string, body: string) => { status?: number; body: string; delayMs?: number; destroy?: boolean };

async function model(answer: Answer): Promise<Model> {
  const m = { copies: 0, live: 0, inFlight: 0, maxInFlight: 0, bodies: [] as string[] } as Model & { server: Server; url: string };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (req.headers['x-switchyard-shadow'] === '1') m.copies++;
      else m.live++;
      m.bodies.push(body);
      m.inFlight++;
      m.maxInFlight = Math.max(m.maxInFlight, m.inFlight);
      const a = answer(String(req.headers['x-user-id']), body);
      setTimeout(() => {
        m.inFlight--;
        if (a.destroy === true) {
          req.socket.destroy();
          return;
        }
        res.writeHead(a.status ?? 200, { 'content-type': 'application/json', 'x-model': 'yes' });
        res.end(a.body);
      }, a.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(m, { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
}

interface Answered {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly ms: number;
}

function call(gateway: Gateway, user: string, body: string): Promise<Answered> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(`${gateway.proxyUrl}/fraud/score`, { method: 'POST', headers: { 'x-user-id': user, 'x-request-id': `req-${user}`, 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), ms: performance.now() - started }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function p99(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil(sorted.length * 0.99) - 1] ?? NaN;
}

async function shadowMetric(gateway: Gateway, name: string, label: string): Promise<number> {
  const text = await gateway.metrics.exposition();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(label));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const label = (user: string) => (Number(user.slice(1)) % 2 === 0 ? 'fraud' : 'ok');

describe('shadow launches', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  afterAll(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function setUp(v2: Answer, shadowYaml: string): Promise<{ gateway: Gateway; stable: Model; shadow: Model }> {
    const stable = await model((user) => ({ body: JSON.stringify({ label: label(user), user }) }));
    const shadow = await model(v2);
    const gateway = await startTestGateway(configYaml({ v1: [stable.url], v2: [shadow.url] }, '', shadowYaml));
    cleanup.push(() => void stable.server.close(), () => void shadow.server.close(), () => gateway.close());
    return { gateway, stable, shadow };
  }

  const startShadow = (gateway: Gateway, percent = 100) =>
    gateway.commands.run('fraud-scorer', { type: 'shadow', version: 'v2', sampleBp: percent * 100 }, { actor: 'test', reason: 'dark launch' });

  it('gives clients byte-identical answers with and without a shadow, and sends the shadow a copy of each sampled request', async () => {
    const { gateway, shadow } = await setUp(() => ({ body: '{"label":"something else"}' }), '    shadow: { timeout: 1s, prediction: { field: label, kind: label } }');
    const users = Array.from({ length: 30 }, (_, i) => `u${i}`);
    const without = await Promise.all(users.map((u) => call(gateway, u, `{"features":[${u.length}]}`)));
    await startShadow(gateway);
    const withShadow = await Promise.all(users.map((u) => call(gateway, u, `{"features":[${u.length}]}`)));
    const strip = (a: Answered) => ({ status: a.status, body: a.body.toString('base64'), headers: { ...a.headers, date: undefined } });
    expect(withShadow.map(strip)).toEqual(without.map(strip));
    expect(withShadow.every((a) => a.headers['x-model-version'] === 'v1')).toBe(true);
    await eventually(() => shadow.copies === users.length);
    expect(shadow.copies).toBe(users.length);
    expect(shadow.live).toBe(0);
    expect(new Set(shadow.bodies)).toEqual(new Set(users.map((u) => `{"features":[${u.length}]}`)));
  });

  it('mirrors only the sampled share of users, the same users every time', async () => {
    const { gateway, shadow } = await setUp(() => ({ body: '{}' }), '');
    await startShadow(gateway, 25);
    const users = Array.from({ length: 400 }, (_, i) => `u${i}`);
    for (let round = 0; round < 2; round++) await Promise.all(users.map((u) => call(gateway, u, '{}')));
    await eventually(() => shadow.copies % 2 === 0 && shadow.copies > 0);
    // 2 rounds of the same users: every sampled user twice, about a quarter of them.
    expect(shadow.copies % 2).toBe(0);
    expect(shadow.copies / 2).toBeGreaterThan(400 * 0.15);
    expect(shadow.copies / 2).toBeLessThan(400 * 0.35);
  });

  it.each([
    ['slow', { delayMs: 400, body: '{}' }, '200ms'],
    ['failing', { status: 500, body: '{"error":"boom"}' }, '5s'],
    ['resetting', { destroy: true, body: '' }, '5s'],
  ] as const)('a %s shadow adds no errors to clients (their latency with and without it is printed, not asserted)', async (_name, answer, timeout) => {
    const { gateway, shadow } = await setUp(() => answer, `    shadow: { timeout: ${timeout}, maxConcurrent: 1000 }`);
    const run = async (prefix: string) => {
      const answered: Answered[] = [];
      for (let batch = 0; batch < 10; batch++) answered.push(...(await Promise.all(Array.from({ length: 20 }, (_, i) => call(gateway, `${prefix}${batch * 20 + i}`, '{}')))));
      return answered;
    };
    await run('warm-up');
    const before = await run('a');
    await startShadow(gateway);
    const during = await run('b');
    expect(during.every((a) => a.status === 200 && a.headers['x-model-version'] === 'v1')).toBe(true);
    const [p99Without, p99With] = [p99(before.map((a) => a.ms)), p99(during.map((a) => a.ms))];
    console.log(`shadow ${_name}: client p99 without ${p99Without.toFixed(1)} ms, with ${p99With.toFixed(1)} ms`);
    await eventually(() => shadow.copies === 200, 8_000);
    const outcome = answer === undefined ? '' : 'delayMs' in answer ? 'timeout' : 'status' in answer ? 'status' : 'connect';
    await eventually(async () => (await shadowMetric(gateway, 'switchyard_shadow_requests_total', `outcome="${outcome}"`)) === 200);
    expect(await shadowMetric(gateway, 'switchyard_shadow_requests_total', `outcome="${outcome}"`)).toBe(200);
    // Clients' own counts show only what they got.
    expect(await shadowMetric(gateway, 'switchyard_requests_total', 'status_class="5xx"')).toBe(0);
  });

  it('computes the disagreement rate of labels on a known pair of models', async () => {
    // v2 disagrees with v1 for every user whose number is a multiple of 4: a quarter of them.
    const { gateway } = await setUp(
      (user) => ({ body: JSON.stringify({ label: Number(user.slice(1)) % 4 === 0 ? 'flipped' : label(user) }) }),
      '    shadow: { prediction: { field: label, kind: label } }',
    );
    await startShadow(gateway);
    await Promise.all(Array.from({ length: 200 }, (_, i) => call(gateway, `u${i}`, '{}')));
    const disagree = () => shadowMetric(gateway, 'switchyard_shadow_comparisons_total', 'result="disagree"');
    const agree = () => shadowMetric(gateway, 'switchyard_shadow_comparisons_total', 'result="agree"');
    await eventually(async () => (await disagree()) + (await agree()) === 200);
    expect(await disagree()).toBe(50);
    expect(await agree()).toBe(150);
    await gateway.flusher.flush();
    const now = Date.now();
    const slices = await gateway.store.readWindows('fraud-scorer', now - 60_000, now + 60_000, 1000);
    const arm = slices.filter((s) => s.version === shadowCompareSeries('v2')).reduce((a, s) => mergeArms(a, s.arm), EMPTY_ARM);
    expect(summariseComparison(arm)).toMatchObject({ pairs: 200, disagreements: 50, disagreementRate: 0.25 });
    // The console's series: the shadow beside the live versions, and its disagreement.
    type Series = { versions: Record<string, { requests: number[] }>; comparisons: Record<string, { pairs: number[] }> };
    const sum = (xs: number[] = []) => xs.reduce((a, b) => a + b, 0);
    const read = async () => (await (await admin(gateway, 'GET', '/api/v1/services/fraud-scorer/series?minutes=1&step=1')).json()) as Series;
    // Points end at the start of the current second: wait until the last pairs' second is over.
    await expect.poll(async () => sum((await read()).comparisons.v2?.pairs), { timeout: 3000 }).toBe(200);
    const series = await read();
    expect(Object.keys(series.versions).sort()).toEqual(['shadow:v2', 'v1']);
    expect(sum(series.versions['shadow:v2']?.requests)).toBe(200);
  });

  it('compares scores: mean and p95 absolute difference', async () => {
    // Stable answers 0.5; v2 answers 0.5 + 0.1 for every 10th user and 0.5 otherwise.
    const stable = await model(() => ({ body: '{"score":0.5}' }));
    const shadow = await model((user) => ({ body: JSON.stringify({ score: Number(user.slice(1)) % 10 === 0 ? 0.6 : 0.5 }) }));
    const gateway = await startTestGateway(configYaml({ v1: [stable.url], v2: [shadow.url] }, '', '    shadow: { prediction: { field: score, kind: score }, drift: { scoreTolerance: 0.05 } }'));
    cleanup.push(() => void stable.server.close(), () => void shadow.server.close(), () => gateway.close());
    await startShadow(gateway);
    await Promise.all(Array.from({ length: 100 }, (_, i) => call(gateway, `u${i}`, '{}')));
    // Every pair compared (the last agreeing copy may still be in flight when the tenth disagreement is counted).
    const compared = async (result: string) => shadowMetric(gateway, 'switchyard_shadow_comparisons_total', `result="${result}"`);
    await eventually(async () => (await compared('disagree')) + (await compared('agree')) === 100);
    await gateway.flusher.flush();
    const now = Date.now();
    const slices = await gateway.store.readWindows('fraud-scorer', now - 60_000, now + 60_000, 1000);
    const summary = summariseComparison(slices.filter((s) => s.version === shadowCompareSeries('v2')).reduce((a, s) => mergeArms(a, s.arm), EMPTY_ARM));
    expect(summary.pairs).toBe(100);
    expect(summary.disagreements).toBe(10);
    expect(summary.meanAbsDiff).toBeCloseTo(0.01, 6);
    expect(summary.p95AbsDiff).toBeGreaterThan(0.098);
    expect(summary.p95AbsDiff).toBeLessThan(0.102);
  });

  it('counts a 2xx shadow answer outside the prediction guardrail as a guardrail failure of the shadow, never the client’s', async () => {
    // Every 5th user gets an impossible score from the shadow; the guardrail's action is for clients and does nothing here.
    const stable = await model(() => ({ body: '{"score":0.5}' }));
    const shadow = await model((user) => ({ body: JSON.stringify({ score: Number(user.slice(1)) % 5 === 0 ? 1.5 : 0.5 }) }));
    const gateway = await startTestGateway(
      configYaml(
        { v1: [stable.url], v2: [shadow.url] },
        '',
        '    guardrail: { field: score, min: 0, max: 1, action: serve-stable }\n    shadow: { prediction: { field: score, kind: score } }',
      ),
    );
    cleanup.push(() => void stable.server.close(), () => void shadow.server.close(), () => gateway.close());
    await startShadow(gateway);
    const answered = await Promise.all(Array.from({ length: 100 }, (_, i) => call(gateway, `u${i}`, '{}')));
    expect(answered.every((a) => a.status === 200 && a.headers['x-model-version'] === 'v1' && a.body.toString() === '{"score":0.5}')).toBe(true);
    const outcome = (name: string) => shadowMetric(gateway, 'switchyard_shadow_requests_total', `outcome="${name}"`);
    await eventually(async () => (await outcome('guardrail')) + (await outcome('ok')) === 100);
    expect(await outcome('guardrail')).toBe(20);
    expect(await outcome('ok')).toBe(80);
    expect(await shadowMetric(gateway, 'switchyard_fallbacks_total', 'fraud-scorer')).toBe(0);
    expect(await shadowMetric(gateway, 'switchyard_requests_total', 'status_class="5xx"')).toBe(0);
    // In the analysis windows a violation is an error of the shadow, not of stable's answer to the same request,
    // and the impossible scores are compared in a bin of their own.
    await gateway.flusher.flush();
    const now = Date.now();
    const slices = await gateway.store.readWindows('fraud-scorer', now - 60_000, now + 60_000, 1000);
    const arm = (series: string) => slices.filter((sl) => sl.version === series).reduce((a, sl) => mergeArms(a, sl.arm), EMPTY_ARM);
    expect(arm(shadowSeries('v2'))).toMatchObject({ requests: 100, errors: 20 });
    expect(arm(shadowBaseSeries('v2'))).toMatchObject({ requests: 100, errors: 0 });
    expect(arm(shadowCompareSeries('v2')).counters).toMatchObject({ sb5: 100, cb5: 80, cb_above: 20 });
  });

  it('does not judge a shadow answer too large for the guardrail, as on the live path', async () => {
    // Every shadow score is impossible; even users get it in an answer over the guardrail's 1 KiB cap.
    const stable = await model(() => ({ body: '{"score":0.5}' }));
    const shadow = await model((user) => ({ body: JSON.stringify({ score: 1.5, padding: Number(user.slice(1)) % 2 === 0 ? 'x'.repeat(2048) : '' }) }));
    const gateway = await startTestGateway(configYaml({ v1: [stable.url], v2: [shadow.url] }, '', '    guardrail: { field: score, min: 0, max: 1, maxBodyBytes: 1KiB }'));
    cleanup.push(() => void stable.server.close(), () => void shadow.server.close(), () => gateway.close());
    await startShadow(gateway);
    await Promise.all(Array.from({ length: 10 }, (_, i) => call(gateway, `u${i}`, '{}')));
    const outcome = (name: string) => shadowMetric(gateway, 'switchyard_shadow_requests_total', `outcome="${name}"`);
    await eventually(async () => (await outcome('guardrail')) + (await outcome('ok')) === 10);
    expect(await outcome('guardrail')).toBe(5);
    expect(await outcome('ok')).toBe(5);
  });

  it('drops and counts copies beyond the concurrency bound instead of queueing them', async () => {
    const { gateway, shadow } = await setUp(() => ({ delayMs: 300, body: '{}' }), '    shadow: { timeout: 2s, maxConcurrent: 2 }');
    await startShadow(gateway);
    const answered = await Promise.all(Array.from({ length: 20 }, (_, i) => call(gateway, `u${i}`, '{}')));
    expect(answered.every((a) => a.status === 200)).toBe(true);
    await eventually(async () => (await shadowMetric(gateway, 'switchyard_shadow_dropped_total', 'reason="concurrency"')) === 18);
    expect(await shadowMetric(gateway, 'switchyard_shadow_dropped_total', 'reason="concurrency"')).toBe(18);
    await eventually(() => shadow.copies === 2 && shadow.inFlight === 0);
    expect(shadow.copies).toBe(2);
    expect(shadow.maxInFlight).toBe(2);
  });

  it('does not mirror bodies over the cap, and counts them', async () => {
    const { gateway, shadow } = await setUp(() => ({ body: '{}' }), '    shadow: { maxBodyBytes: 1KiB }');
    await startShadow(gateway);
    const big = JSON.stringify({ features: 'x'.repeat(4096) });
    const answered = await call(gateway, 'u1', big);
    expect(answered.status).toBe(200);
    await eventually(async () => (await shadowMetric(gateway, 'switchyard_shadow_dropped_total', 'reason="body"')) === 1);
    expect(await shadowMetric(gateway, 'switchyard_shadow_dropped_total', 'reason="body"')).toBe(1);
    expect(shadow.copies).toBe(0);
  });
});
