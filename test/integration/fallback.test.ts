import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startSampleBackend } from '../../src/demo/sample-backend.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import { deadPort, startBackend } from '../helpers/backends.js';
import { configYaml, startTestGateway } from '../helpers/gateway.js';

const SERVICE = 'fraud-scorer';
let cleanup: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const close of cleanup.reverse()) await close();
  cleanup = [];
});

async function gateway(versions: Record<string, string[]>, serviceExtra = ''): Promise<Gateway> {
  const g = await startTestGateway(configYaml(versions, '', serviceExtra));
  cleanup.push(() => g.close());
  return g;
}

/** Everyone on the candidate, so every request tries it first. */
async function allOnCandidate(g: Gateway): Promise<void> {
  await g.commands.run(SERVICE, { type: 'start', candidate: 'v2' }, { actor: 'test' });
  await g.commands.run(SERVICE, { type: 'set-weight', weightBp: 10_000 }, { actor: 'test' });
}

async function backend(name: string) {
  const b = await startBackend(name);
  cleanup.push(() => b.close());
  return b;
}

describe('fallback to stable', () => {
  it('replays a request with a body on stable when the candidate cannot be reached, and counts the failure against the candidate', async () => {
    const v1 = await backend('v1');
    const g = await gateway({ v1: [v1.url], v2: [`http://127.0.0.1:${await deadPort()}`] });
    await allOnCandidate(g);
    const res = await fetch(`${g.proxyUrl}/fraud/score`, { method: 'POST', body: '{"features":[1,2,3]}', headers: { 'x-user-id': 'u1' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-model-version')).toBe('v1');
    expect(((await res.json()) as { body: string }).body).toBe('{"features":[1,2,3]}');
    const metrics = await (await fetch(`${g.adminUrl}/metrics`)).text();
    expect(metrics).toContain('switchyard_fallbacks_total{service="fraud-scorer",from="v2",to="v1"} 1');
    expect(metrics).toMatch(/switchyard_upstream_errors_total\{service="fraud-scorer",version="v2",kind="connect"\} 1/);
  });

  it('keeps a slowly streamed body whole and replays it when the candidate failed before the body ended', async () => {
    const v1 = await backend('v1');
    const g = await gateway({ v1: [v1.url], v2: [`http://127.0.0.1:${await deadPort()}`] }, '    fallback: { replayBodyBytes: 8MiB }');
    await allOnCandidate(g);
    let left = 64;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (left-- === 0) controller.close();
        else controller.enqueue(new Uint8Array(65_536).fill(120));
      },
    });
    const init = { method: 'POST', body, duplex: 'half', headers: { 'x-user-id': 'u1' } } as RequestInit;
    const res = await fetch(`${g.proxyUrl}/fraud/score`, init);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-model-version')).toBe('v1');
    expect(((await res.json()) as { body: string }).body.length).toBe(64 * 65_536);
  });

  it('replays on stable when the candidate answers a configured status', async () => {
    const [v1, v2] = await Promise.all([backend('v1'), startSampleBackend({ version: 'v2', errorRate: 1 })]);
    cleanup.push(() => v2.close());
    const g = await gateway({ v1: [v1.url], v2: [v2.url] }, '    fallback: { statuses: [500, 503] }');
    await allOnCandidate(g);
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => fetch(`${g.proxyUrl}/fraud/x`, { headers: { 'x-user-id': `u${i}` } })));
    for (const res of answers) {
      expect(res.status).toBe(200);
      expect(res.headers.get('x-model-version')).toBe('v1');
    }
  });

  it('replays on stable when the candidate does not answer in time, and stable answers in full', async () => {
    const v1 = await backend('v1');
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanup.push(
      () =>
        new Promise((resolve) => {
          silent.close(resolve);
          silent.closeAllConnections();
        }),
    );
    const g = await gateway({ v1: [v1.url], v2: [`http://127.0.0.1:${(silent.address() as AddressInfo).port}`] });
    await allOnCandidate(g);
    const res = await fetch(`${g.proxyUrl}/fraud/score`, { method: 'POST', body: 'late', headers: { 'x-user-id': 'u1' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-model-version')).toBe('v1');
    expect(((await res.json()) as { body: string }).body).toBe('late');
    const metrics = await (await fetch(`${g.adminUrl}/metrics`)).text();
    expect(metrics).toContain('switchyard_upstream_errors_total{service="fraud-scorer",version="v2",kind="timeout"} 1');
    expect(metrics).toContain('switchyard_upstream_errors_total{service="fraud-scorer",version="v1",kind="connect"} 0');
  });

  it('answers an explicit error when the body was too large to keep for a replay', async () => {
    const v1 = await backend('v1');
    const g = await gateway({ v1: [v1.url], v2: [`http://127.0.0.1:${await deadPort()}`] }, '    fallback: { replayBodyBytes: 1KiB }');
    await allOnCandidate(g);
    const res = await fetch(`${g.proxyUrl}/fraud/score`, { method: 'POST', body: 'x'.repeat(4096), headers: { 'x-user-id': 'u1', 'x-request-id': 'big-1' } });
    expect(res.status).toBe(502);
    const body = (await res.json()) as { detail: string; requestId: string; version: string; service: string };
    expect(body).toMatchObject({ requestId: 'big-1', version: 'v2', service: SERVICE });
    expect(body.detail).toContain('too large to replay');
    expect(v1.seen.length).toBe(0);
  });

  it('does not move a client that asked for the candidate explicitly', async () => {
    const v1 = await backend('v1');
    const g = await gateway({ v1: [v1.url], v2: [`http://127.0.0.1:${await deadPort()}`] });
    const res = await fetch(`${g.proxyUrl}/fraud/x`, { headers: { 'x-model-version': 'v2' } });
    expect(res.status).toBe(502);
    expect(res.headers.get('x-model-version')).toBe('v2');
  });

  it('answers the configured fallback response when no version can answer', async () => {
    const dead = `http://127.0.0.1:${await deadPort()}`;
    const g = await gateway(
      { v1: [dead], v2: [dead] },
      '    fallback: { response: { status: 200, headers: { x-degraded: "true" }, body: { score: 0.5, degraded: true } } }',
    );
    await allOnCandidate(g);
    const res = await fetch(`${g.proxyUrl}/fraud/x`, { headers: { 'x-user-id': 'u1', 'x-request-id': 'fb-1' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-degraded')).toBe('true');
    expect(res.headers.get('x-model-version')).toBe('fallback');
    expect(res.headers.get('x-request-id')).toBe('fb-1');
    expect(await res.json()).toEqual({ score: 0.5, degraded: true });
  });
});

describe('passive health', () => {
  it('ejects a target that refuses in a row, never the last one, and takes it back after the cool-down', async () => {
    const alive = await backend('alive');
    const port = await deadPort();
    const g = await gateway({ v1: [alive.url, `http://127.0.0.1:${port}`], v2: [alive.url] }, '    health: { failures: 2, cooldown: 400ms, maxCooldown: 2s }');
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await fetch(`${g.proxyUrl}/fraud/x`, { headers: { 'x-user-id': 'u' } })).status);
    // Round-robin: the dead target refuses twice and is ejected; each refused request went to the live one instead.
    expect(statuses).toEqual(Array.from({ length: 12 }, () => 200));
    expect(await (await fetch(`${g.adminUrl}/metrics`)).text()).toContain(
      `switchyard_target_ejections_total{service="fraud-scorer",version="v1",target="http://127.0.0.1:${port}"} 1`,
    );

    // The target comes back: after the cool-down it is tried again and serves.
    const revived = createServer((_req, res) => res.end('revived'));
    await new Promise<void>((resolve) => revived.listen(port, '127.0.0.1', resolve));
    cleanup.push(() => new Promise((resolve) => revived.close(resolve)));
    await new Promise((resolve) => setTimeout(resolve, 450));
    const bodies = new Set<string>();
    for (let i = 0; i < 4; i++) bodies.add(await (await fetch(`${g.proxyUrl}/fraud/x`, { headers: { 'x-user-id': 'u' } })).text());
    expect(bodies.has('revived')).toBe(true);
  });

  it('never ejects the only target of a version', async () => {
    const g = await gateway({ v1: [`http://127.0.0.1:${await deadPort()}`], v2: [`http://127.0.0.1:${await deadPort()}`] }, '    health: { failures: 1 }');
    for (let i = 0; i < 3; i++) expect((await fetch(`${g.proxyUrl}/fraud/x`)).status).toBe(502);
    expect(await (await fetch(`${g.adminUrl}/metrics`)).text()).not.toContain('switchyard_target_ejections_total{');
  });
});
