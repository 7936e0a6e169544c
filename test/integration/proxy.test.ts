import { connect } from 'node:net';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Gateway } from '../../src/gateway/gateway.js';
import { deadPort, startBackend, type TestBackend } from '../helpers/backends.js';
import { configYaml, startTestGateway } from '../helpers/gateway.js';

let v1a: TestBackend;
let v1b: TestBackend;
let v2: TestBackend;
let gateway: Gateway;
let down: Gateway;

async function setWeight(percent: number): Promise<void> {
  const state = await gateway.commands.state('fraud-scorer');
  if (state.phase !== 'progressing') await gateway.commands.run('fraud-scorer', { type: 'start', candidate: 'v2' }, { actor: 'test' });
  await gateway.commands.run('fraud-scorer', { type: 'set-weight', weightBp: percent * 100 }, { actor: 'test' });
}

function get(path: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${gateway.proxyUrl}${path}`, { headers });
}

beforeAll(async () => {
  [v1a, v1b, v2] = await Promise.all([startBackend('v1a'), startBackend('v1b'), startBackend('v2')]);
  gateway = await startTestGateway(configYaml({ v1: [v1a.url, v1b.url], v2: [v2.url] }));
  const dead = await deadPort();
  down = await startTestGateway(configYaml({ v1: [`http://127.0.0.1:${dead}`], v2: [v2.url] }));
});

afterAll(async () => {
  await Promise.all([gateway.close(), down.close()]);
  await Promise.all([v1a.close(), v1b.close(), v2.close()]);
});

describe('proxy routing', () => {
  it('answers 404 problem JSON for a path no service matches', async () => {
    const res = await get('/nothing-here');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const body = (await res.json()) as { code: string; requestId: string };
    expect(body.code).toBe('SY_ERR_NO_ROUTE');
    expect(body.requestId).toBe(res.headers.get('x-request-id'));
  });

  it('does not match a longer path that only starts with the prefix', async () => {
    expect((await get('/fraudulent')).status).toBe(404);
  });

  it('round-robins over the targets of a version', async () => {
    const before = v1a.seen.length + v1b.seen.length;
    const backends = new Set<string>();
    for (let i = 0; i < 6; i++) backends.add(((await (await get('/fraud/score', { 'x-user-id': 'rr' })).json()) as { backend: string }).backend);
    expect(backends).toEqual(new Set(['v1a', 'v1b']));
    expect(v1a.seen.length + v1b.seen.length - before).toBe(6);
  });

  it('splits traffic by weight: about 30% of distinct users reach the candidate', async () => {
    await setWeight(30);
    let candidate = 0;
    const users = 2000;
    await Promise.all(
      Array.from({ length: users }, async (_, i) => {
        const res = await get('/fraud/score', { 'x-user-id': `user-${i}` });
        await res.arrayBuffer();
        if (res.headers.get('x-model-version') === 'v2') candidate++;
      }),
    );
    expect(candidate / users).toBeGreaterThan(0.26);
    expect(candidate / users).toBeLessThan(0.34);
  });

  it('keeps a user on one version by header, by cookie, and by a generated cookie', async () => {
    await setWeight(50);
    const byHeader = await Promise.all(Array.from({ length: 5 }, () => get('/fraud/x', { 'x-user-id': 'alice' })));
    expect(new Set(byHeader.map((r) => r.headers.get('x-model-version'))).size).toBe(1);

    const byCookie = await Promise.all(Array.from({ length: 5 }, () => get('/fraud/x', { cookie: 'a=1; sy_uid=bob; z=2' })));
    expect(new Set(byCookie.map((r) => r.headers.get('x-model-version'))).size).toBe(1);

    const first = await get('/fraud/x');
    const cookies = first.headers.getSetCookie();
    const sticky = cookies.find((c) => c.startsWith('sy_uid='));
    expect(sticky).toMatch(/HttpOnly/);
    expect(cookies).toContain('b=1');
    const value = (sticky ?? '').split(';')[0] ?? '';
    const again = await Promise.all(Array.from({ length: 5 }, () => get('/fraud/x', { cookie: value })));
    for (const res of again) {
      expect(res.headers.get('x-model-version')).toBe(first.headers.get('x-model-version'));
      expect(res.headers.getSetCookie().some((c) => c.startsWith('sy_uid='))).toBe(false);
    }
  });

  it('serves an explicitly requested version and refuses an unknown one with the valid list', async () => {
    const res = await get('/fraud/x', { 'x-model-version': 'v2', 'x-user-id': 'carol' });
    expect(res.headers.get('x-model-version')).toBe('v2');
    expect(((await res.json()) as { backend: string }).backend).toBe('v2');

    const bad = await get('/fraud/x', { 'x-model-version': 'v9' });
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as { detail: string };
    expect(body.detail).toContain('v9');
    expect(body.detail).toContain('v1, v2');
  });
});

describe('proxy forwarding', () => {
  it('passes the request id through, or generates one, both ways', async () => {
    const given = await get('/fraud/id', { 'x-request-id': 'req-123', 'x-model-version': 'v2' });
    expect(given.headers.get('x-request-id')).toBe('req-123');
    expect(v2.seen.at(-1)?.headers['x-request-id']).toBe('req-123');

    const generated = await get('/fraud/id', { 'x-model-version': 'v2' });
    const id = generated.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(v2.seen.at(-1)?.headers['x-request-id']).toBe(id);
  });

  it('sets x-forwarded headers and strips hop-by-hop headers both ways', async () => {
    const res = await new Promise<{ headers: Record<string, unknown> }>((resolve, reject) => {
      const req = request(`${gateway.proxyUrl}/fraud/h?q=1`, {
        headers: { 'x-model-version': 'v2', connection: 'keep-alive, x-secret', 'x-secret': 's', 'proxy-authorization': 'p', te: 'trailers' },
      });
      req.on('response', (r) => {
        r.resume();
        r.on('end', () => resolve({ headers: r.headers }));
      });
      req.on('error', reject);
      req.end();
    });
    const seen = v2.seen.at(-1);
    expect(seen?.url).toBe('/fraud/h?q=1');
    expect(seen?.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen?.headers['x-forwarded-proto']).toBe('http');
    expect(seen?.headers['x-forwarded-host']).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(seen?.headers['x-secret']).toBeUndefined();
    expect(seen?.headers['proxy-authorization']).toBeUndefined();
    expect(seen?.headers.te).toBeUndefined();
    // The backend's own keep-alive parameters are not passed on (the gateway's server sets its own).
    expect(res.headers['keep-alive']).not.toBe('timeout=99');
    expect(res.headers['x-backend']).toBe('v2');
  });

  it('streams a request body upstream', async () => {
    const body = 'x'.repeat(200_000);
    const res = await fetch(`${gateway.proxyUrl}/fraud/score`, { method: 'POST', body, headers: { 'x-model-version': 'v2' } });
    expect(((await res.json()) as { body: string }).body.length).toBe(body.length);
  });

  it('delivers server-sent events chunk by chunk, not buffered', async () => {
    const res = await get('/fraud/sse', { 'x-model-version': 'v2' });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const arrivals: number[] = [];
    const start = Date.now();
    let text = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
      arrivals.push(Date.now() - start);
    }
    expect(text).toContain('event 2 from v2');
    expect(arrivals.length).toBeGreaterThanOrEqual(3);
    // The first event is in hand long before the stream ends (events are 150 ms apart).
    expect((arrivals.at(-1) ?? 0) - (arrivals[0] ?? 0)).toBeGreaterThan(200);
  });

  it('forwards a WebSocket upgrade to the assigned version', async () => {
    const ws = new WebSocket(`${gateway.proxyUrl.replace('http', 'ws')}/fraud/ws`, { headers: { 'x-model-version': 'v2' } });
    let version: unknown;
    ws.on('upgrade', (res) => (version = res.headers['x-model-version']));
    await new Promise((resolve, reject) => {
      ws.on('open', resolve);
      ws.on('error', reject);
    });
    const echoed = new Promise<string>((resolve) => ws.on('message', (d) => resolve(d.toString())));
    ws.send('hello');
    expect(await echoed).toBe('v2:hello');
    expect(version).toBe('v2');
    ws.close();
  });

  it('answers 502 problem JSON with the request id when the upstream is down', async () => {
    const res = await fetch(`${down.proxyUrl}/fraud/x`, { headers: { 'x-request-id': 'down-1' } });
    expect(res.status).toBe(502);
    const body = (await res.json()) as { code: string; requestId: string; version: string; service: string };
    expect(body).toMatchObject({ code: 'SY_ERR_UPSTREAM_CONNECT', requestId: 'down-1', version: 'v1', service: 'fraud-scorer' });
  });

  it('answers 504 when the upstream does not answer in time', async () => {
    const res = await get('/fraud/hang', { 'x-model-version': 'v2' });
    expect(res.status).toBe(504);
    expect(((await res.json()) as { code: string }).code).toBe('SY_ERR_UPSTREAM_TIMEOUT');
  });

  it('cancels the upstream request when the client goes away', async () => {
    const before = v2.aborted;
    const controller = new AbortController();
    const aborted = fetch(`${gateway.proxyUrl}/fraud/hang`, { headers: { 'x-model-version': 'v2' }, signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    await expect(aborted).rejects.toThrow();
    // Well before the 1 s upstream timeout, which would also close it.
    await expect.poll(() => v2.aborted - before, { timeout: 600 }).toBe(1);
  });
});

describe('client keep-alive', () => {
  /** Sends one request on a raw connection and resolves with how long the gateway kept it open afterwards (capped). */
  async function idleLifetime(proxyUrl: string, capMs: number): Promise<number> {
    const { port } = new URL(proxyUrl);
    const socket = connect(Number(port), '127.0.0.1');
    socket.write('GET /fraud/ka HTTP/1.1\r\nHost: gw\r\nx-model-version: v1\r\n\r\n');
    await new Promise<void>((resolve) => socket.once('data', () => resolve()));
    const answeredAt = Date.now();
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - answeredAt)));
    const cap = new Promise<number>((resolve) => setTimeout(() => resolve(capMs), capMs));
    const lifetime = await Promise.race([closed, cap]);
    socket.destroy();
    return lifetime;
  }

  it('closes an idle client connection after proxy.keepAliveTimeout, not node’s 5 s', async () => {
    const backend = await startBackend('ka');
    const short = await startTestGateway(configYaml({ v1: [backend.url] }).replace('proxy: { listen: "127.0.0.1:0" }', 'proxy: { listen: "127.0.0.1:0", keepAliveTimeout: 300ms }'));
    const usual = await startTestGateway(configYaml({ v1: [backend.url] }));
    try {
      expect(await idleLifetime(short.proxyUrl, 5_000)).toBeLessThan(3_000);
      // The default (65 s) keeps it past node's own 5 s default.
      expect(await idleLifetime(usual.proxyUrl, 5_500)).toBe(5_500);
    } finally {
      await Promise.all([short.close(), usual.close(), backend.close()]);
    }
  }, 20_000);

  it('close() does not wait for client connections to go idle by themselves', async () => {
    const backend = await startBackend('ka');
    const gw = await startTestGateway(configYaml({ v1: [backend.url] }));
    const socket = connect(Number(new URL(gw.proxyUrl).port), '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    // Half a request: the connection is neither idle nor finished.
    socket.write('GET /fraud/ka HTTP/1.1\r\nHost: gw\r\n');
    socket.on('error', () => undefined);
    const closed = gw.close().then(() => 'closed');
    const late = new Promise((resolve) => setTimeout(() => resolve('still open after 5 s'), 5_000));
    expect(await Promise.race([closed, late])).toBe('closed');
    socket.destroy();
    await backend.close();
  }, 20_000);
});
