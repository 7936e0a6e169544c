import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway/gateway.js';
import { configYaml, startTestGateway } from '../helpers/gateway.js';

const SERVICE = 'fraud-scorer';
let cleanup: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const close of cleanup.reverse()) await close();
  cleanup = [];
});

/** A model that always answers `body`. */
async function model(body: string): Promise<string> {
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => new Promise((resolve) => server.close(resolve)));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function gateway(guardrail: string, extra = ''): Promise<Gateway> {
  const v1 = await model('{"score":0.2}');
  const v2 = await model(`{"score":7,"pad":"${'x'.repeat(100)}"}`);
  const g = await startTestGateway(configYaml({ v1: [v1], v2: [v2] }, '', `    guardrail: ${guardrail}\n${extra}`));
  cleanup.push(() => g.close());
  await g.commands.run(SERVICE, { type: 'start', candidate: 'v2' }, { actor: 'test' });
  await g.commands.run(SERVICE, { type: 'set-weight', weightBp: 10_000 }, { actor: 'test' });
  return g;
}

const post = (g: Gateway) => fetch(`${g.proxyUrl}/fraud/score`, { method: 'POST', body: '{"x":1}', headers: { 'x-user-id': 'u1' } });
const metricsOf = async (g: Gateway) => (await fetch(`${g.adminUrl}/metrics`)).text();
const GUARDRAIL_ERRORS = 'switchyard_upstream_errors_total{service="fraud-scorer",version="v2",kind="guardrail"} 1';

describe('prediction guardrail actions', () => {
  it('count: serves the answer and counts the violation against the version', async () => {
    const g = await gateway('{ field: score, min: 0, max: 1 }');
    const res = await post(g);
    expect(res.headers.get('x-model-version')).toBe('v2');
    expect(((await res.json()) as { score: number }).score).toBe(7);
    expect(await metricsOf(g)).toContain(GUARDRAIL_ERRORS);
  });

  it('serve-stable: replays the request on stable and serves its answer', async () => {
    const g = await gateway('{ field: score, min: 0, max: 1, action: serve-stable }');
    const res = await post(g);
    expect(res.headers.get('x-model-version')).toBe('v1');
    expect(await res.json()).toEqual({ score: 0.2 });
    const metrics = await metricsOf(g);
    expect(metrics).toContain(GUARDRAIL_ERRORS);
    expect(metrics).toContain('switchyard_fallbacks_total{service="fraud-scorer",from="v2",to="v1"} 1');
  });

  it('constant: answers the configured fallback response', async () => {
    const g = await gateway('{ field: score, min: 0, max: 1, action: constant }', '    fallback: { response: { status: 200, body: { score: 0.5, degraded: true } } }');
    const res = await post(g);
    expect(res.headers.get('x-model-version')).toBe('fallback');
    expect(await res.json()).toEqual({ score: 0.5, degraded: true });
  });

  it('lets an answer larger than the cap stream through unjudged', async () => {
    const g = await gateway('{ field: score, min: 0, max: 1, action: constant, maxBodyBytes: 16 }', '    fallback: { response: { status: 200, body: {} } }');
    const res = await post(g);
    expect(res.headers.get('x-model-version')).toBe('v2');
    expect(((await res.json()) as { score: number }).score).toBe(7);
  });
});
