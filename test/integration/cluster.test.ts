import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, type TestBackend } from '../helpers/backends.js';
import { configYaml, OPERATOR_TOKEN } from '../helpers/gateway.js';
import { startServeProcess, workerPids, type ServeProcess } from '../helpers/serve-process.js';

/** One request on a fresh connection, so node:cluster hands it to the next worker in turn. */
function get(base: string, path: string, user: string): Promise<{ status: number; version: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { headers: { 'x-user-id': user, connection: 'close' }, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, version: String(res.headers['x-model-version']), body }));
    });
    req.setTimeout(5_000, () => req.destroy(new Error(`no answer within 5 s for ${user}`)));
    req.on('error', reject);
    req.end();
  });
}

async function adminCall(gw: ServeProcess, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${gw.adminUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function metricValue(gw: ServeProcess, line: RegExp): Promise<number> {
  const text = await (await fetch(`${gw.adminUrl}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => line.test(l))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

async function eventually<T>(read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('serve --workers 2 (node:cluster)', () => {
  let v1: TestBackend;
  let v2: TestBackend;
  let gw: ServeProcess;

  beforeAll(async () => {
    v1 = await startBackend('v1');
    v2 = await startBackend('v2');
    const yaml = configYaml({ v1: [v1.url], v2: [v2.url] }).replace('log: { level: silent }', 'log: { level: info }').replace('proxy: { listen: "127.0.0.1:0" }', 'proxy: { listen: "127.0.0.1:0", drainDelay: 0s, drainTimeout: 5s }');
    gw = await startServeProcess(yaml, ['--workers', '2']);
  }, 40_000);

  afterAll(async () => {
    await gw?.stop();
    await Promise.all([v1?.close(), v2?.close()]);
  });

  it('runs two workers on one port; a state change reaches every worker; their counts reach the primary', async () => {
    expect(workerPids(gw.child.pid!)).toHaveLength(2);
    expect(await metricValue(gw, /^switchyard_proxy_workers /)).toBe(2);
    const before = await Promise.all(Array.from({ length: 20 }, (_, i) => get(gw.proxyUrl, '/fraud/score', `u${i}`)));
    expect(before.map((r) => r.version)).toEqual(Array(20).fill('v1'));

    expect((await adminCall(gw, 'POST', '/api/v1/services/fraud-scorer/rollout', { candidate: 'v2' })).status).toBe(200);
    expect((await adminCall(gw, 'POST', '/api/v1/services/fraud-scorer/weight', { weight: 100 })).status).toBe(200);
    // Sent one at a time on new connections: the workers take turns, so both must have the new weight.
    const after: string[] = [];
    for (let i = 0; i < 20; i++) after.push((await get(gw.proxyUrl, '/fraud/score', `u${i}`)).version);
    expect(after).toEqual(Array(20).fill('v2'));

    const counted = await eventually(() => metricValue(gw, /^switchyard_requests_total\{service="fraud-scorer".*status_class="2xx"/), (n) => n === 40);
    expect(counted).toBe(40);
    const series = await eventually(
      async () => (await (await adminCall(gw, 'GET', '/api/v1/services/fraud-scorer/series?minutes=5')).json()) as { versions?: Record<string, unknown> },
      (s) => JSON.stringify(s).includes('v2'),
    );
    expect(JSON.stringify(series)).toContain('v2');
  }, 30_000);

  it('forks a new worker when one dies, and keeps serving meanwhile', async () => {
    const [victim] = workerPids(gw.child.pid!);
    process.kill(victim!, 'SIGKILL');
    // Once the primary has seen the death (a connection handed over in that very instant is node:cluster's to lose).
    await eventually(async () => gw.logs.some((l) => l.msg === 'proxy worker died; forking a new one'), Boolean);
    const during = await Promise.all(Array.from({ length: 10 }, (_, i) => get(gw.proxyUrl, '/fraud/score', `k${i}`)));
    expect(during.every((r) => r.status === 200)).toBe(true);
    const pids = await eventually(async () => workerPids(gw.child.pid!), (p) => p.length === 2 && !p.includes(victim!));
    expect(pids).toHaveLength(2);
    expect(pids).not.toContain(victim);
  }, 30_000);

  it('drains on SIGTERM: a stream in flight finishes whole, then the process exits 0', async () => {
    let signalled = false;
    const stream = new Promise<string>((resolve, reject) => {
      request(`${gw.proxyUrl}/fraud/sse`, { headers: { 'x-user-id': 'streamer' } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c.toString('utf8');
          if (body.includes('event 0') && !signalled) signalled = gw.child.kill('SIGTERM');
        });
        res.on('end', () => resolve(body));
        res.on('error', reject);
      })
        .on('error', reject)
        .end();
    });
    const body = await stream;
    expect(body.match(/data: event \d/g)).toHaveLength(3);
    expect(await gw.exited).toBe(0);
    expect(gw.logs.some((l) => l.msg === 'drained and closed')).toBe(true);
  }, 30_000);
});
