import { Agent, createServer, request } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startIdleClosingBackend } from '../helpers/backends.js';
import { configYaml, startTestGateway } from '../helpers/gateway.js';

/**
 * Issue 13, hole 7: model servers such as uvicorn close idle keep-alive
 * connections silently, and a request sent on one as it closes fails with a
 * reset or a hang-up. Such a request must be sent again on a fresh connection,
 * counted as a retry and never as a failure of the version.
 */

const SERVICE = 'fraud-scorer';
let cleanup: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const close of cleanup.reverse()) await close();
  cleanup = [];
});

interface Answer {
  readonly status: number;
  readonly body: string;
}

function call(agent: Agent, url: string, method: 'GET' | 'POST', user: string, body: string | null): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, method, headers: { 'x-user-id': user } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}

/** The sum of a metric's samples whose labels include `labels`. */
async function metric(g: Gateway, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${g.adminUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) && line.includes(labels)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

async function gateway(versions: Record<string, string[]>, serviceExtra = ''): Promise<Gateway> {
  const g = await startTestGateway(configYaml(versions, '', serviceExtra));
  cleanup.push(() => g.close());
  return g;
}

/** Requests and errors of a version in the analysis windows. */
async function windows(g: Gateway, version: string): Promise<{ requests: number; errors: number }> {
  await g.flusher.flush();
  const now = Date.now();
  const slices = (await g.store.readWindows(SERVICE, now - 60_000, now + 60_000, 1000)).filter((w) => w.version === version);
  return { requests: slices.reduce((n, w) => n + w.arm.requests, 0), errors: slices.reduce((n, w) => n + w.arm.errors, 0) };
}

/** What a backend does with a request, given which request of its connection it is (1 for a fresh connection). */
type Action = 'answer' | 'drop' | 'partial';

interface ScriptedBackend {
  readonly url: string;
  /** Bodies of the requests answered. */
  readonly answered: string[];
  dropped: number;
}

/**
 * A backend that answers `{body}`, or drops the connection without a byte of
 * answer (as a server that closed it while idle looks to the client), or after
 * the first bytes of one (`partial`).
 */
async function scriptedBackend(act: (nth: number) => Action): Promise<ScriptedBackend> {
  const backend: ScriptedBackend = { url: '', answered: [], dropped: 0 };
  const served = new WeakMap<Socket, number>();
  const server = createServer((req, res) => {
    const nth = (served.get(req.socket) ?? 0) + 1;
    served.set(req.socket, nth);
    const action = act(nth);
    if (action !== 'answer') {
      backend.dropped++;
      if (action === 'drop') req.socket.destroy();
      else req.socket.end('HTTP/1.1 200 OK\r\nContent-Le');
      return;
    }
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      backend.answered.push(body);
      res.end(JSON.stringify({ body }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(
    () =>
      new Promise((resolve) => {
        server.close(resolve);
        server.closeAllConnections();
      }),
  );
  return Object.assign(backend, { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
}

async function send(g: Gateway, method: 'GET' | 'POST', body?: string): Promise<{ status: number; body: string; version: string | null }> {
  const res = await fetch(`${g.proxyUrl}/fraud/score`, { method, body, headers: { 'x-user-id': 'u1' } });
  return { status: res.status, body: await res.text(), version: res.headers.get('x-model-version') };
}

describe('a reused connection that fails before any answer', () => {
  it('is sent again on a fresh connection, GET and POST with its body whole, and counted as a retry, not a failure', async () => {
    const backend = await scriptedBackend((nth) => (nth === 1 ? 'answer' : 'drop'));
    const g = await gateway({ v1: [backend.url] });
    // 1 opens a connection the pool keeps; 2 goes out on it and is dropped; 3 opens another; 4 (a POST) is dropped on it.
    const answers = [await send(g, 'GET'), await send(g, 'GET'), await send(g, 'GET'), await send(g, 'POST', '{"features":[1,2,3]}')];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(JSON.parse(answers[3]!.body)).toEqual({ body: '{"features":[1,2,3]}' });
    expect(backend.dropped).toBe(2);
    expect(backend.answered).toEqual(['', '', '', '{"features":[1,2,3]}']);
    expect(await metric(g, 'switchyard_upstream_retries_total', 'version="v1"')).toBe(2);
    expect(await metric(g, 'switchyard_upstream_errors_total', 'version="v1"')).toBe(0);
    expect(await windows(g, 'v1')).toEqual({ requests: 4, errors: 0 });
  });

  it('is a real failure when the fresh connection fails too: 502, and counted against the version', async () => {
    let failing = false;
    const backend = await scriptedBackend(() => (failing ? 'drop' : 'answer'));
    const g = await gateway({ v1: [backend.url] });
    expect((await send(g, 'GET')).status).toBe(200);
    failing = true;
    const answer = await send(g, 'POST', 'x');
    expect(answer.status).toBe(502);
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'SY_ERR_UPSTREAM_CONNECT', service: SERVICE, version: 'v1' });
    // Once on the reused connection, once on a fresh one, and no more.
    expect(backend.dropped).toBe(2);
    expect(await metric(g, 'switchyard_upstream_retries_total', 'version="v1"')).toBe(1);
    expect(await metric(g, 'switchyard_upstream_errors_total', 'version="v1",kind="connect"')).toBe(1);
    expect(await windows(g, 'v1')).toEqual({ requests: 2, errors: 1 });
  });

  it('falls back to stable as any failure does when the candidate fails on the fresh connection too', async () => {
    let failing = false;
    const candidate = await scriptedBackend(() => (failing ? 'drop' : 'answer'));
    const stable = await scriptedBackend(() => 'answer');
    const g = await gateway({ v1: [stable.url], v2: [candidate.url] });
    await g.commands.run(SERVICE, { type: 'start', candidate: 'v2' }, { actor: 'test' });
    await g.commands.run(SERVICE, { type: 'set-weight', weightBp: 10_000 }, { actor: 'test' });
    expect((await send(g, 'GET')).version).toBe('v2');
    failing = true;
    const answer = await send(g, 'POST', 'kept');
    expect(answer.status).toBe(200);
    expect(answer.version).toBe('v1');
    expect(JSON.parse(answer.body)).toEqual({ body: 'kept' });
    expect(candidate.dropped).toBe(2);
    expect(await metric(g, 'switchyard_upstream_retries_total', 'version="v2"')).toBe(1);
    expect(await metric(g, 'switchyard_fallbacks_total', 'from="v2",to="v1"')).toBe(1);
    expect(await windows(g, 'v2')).toEqual({ requests: 2, errors: 1 });
  });

  it('is not sent again once the first bytes of an answer came back on it', async () => {
    const backend = await scriptedBackend((nth) => (nth === 1 ? 'answer' : 'partial'));
    const g = await gateway({ v1: [backend.url] });
    expect((await send(g, 'GET')).status).toBe(200);
    expect((await send(g, 'GET')).status).toBe(502);
    expect(backend.dropped).toBe(1);
    expect(await metric(g, 'switchyard_upstream_retries_total', 'version="v1"')).toBe(0);
    expect(await metric(g, 'switchyard_upstream_errors_total', 'version="v1",kind="connect"')).toBe(1);
  });

  it('is not sent again when its body was over fallback.replayBodyBytes and could not be kept', async () => {
    const backend = await scriptedBackend((nth) => (nth === 1 ? 'answer' : 'drop'));
    const g = await gateway({ v1: [backend.url] }, '    fallback: { replayBodyBytes: 1KiB }');
    expect((await send(g, 'GET')).status).toBe(200);
    expect((await send(g, 'POST', 'x'.repeat(4096))).status).toBe(502);
    expect(backend.dropped).toBe(1);
    expect(await metric(g, 'switchyard_upstream_retries_total', 'version="v1"')).toBe(0);
  });
});

describe('idle upstream connections', () => {
  it('are closed by the gateway after timeouts.upstreamIdle, before a server that never says when it closes', async () => {
    let connections = 0;
    let closedByGateway = 0;
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('{}'));
    });
    // No idle timeout of its own, and so no Keep-Alive hint: only the gateway can close.
    server.keepAliveTimeout = 0;
    server.on('connection', (socket: Socket) => {
      connections++;
      socket.once('end', () => closedByGateway++);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.push(
      () =>
        new Promise((resolve) => {
          server.close(resolve);
          server.closeAllConnections();
        }),
    );
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const g = await startTestGateway(configYaml({ v1: [url] }).replace('request: 1s }', 'request: 1s, upstreamIdle: 200ms }'));
    cleanup.push(() => g.close());
    expect((await send(g, 'GET')).status).toBe(200);
    await expect.poll(() => closedByGateway, { timeout: 5_000 }).toBe(1);
    expect((await send(g, 'GET')).status).toBe(200);
    expect(connections).toBe(2);
    expect(await metric(g, 'switchyard_upstream_retries_total', 'version="v1"')).toBe(0);
  });
});

describe('stale keep-alive connections', () => {
  const IDLE_CLOSE_MS = 100;
  const ROUNDS = 48;
  const BURST = 16;
  /** Offsets around the backend's idle close, in ms: each round's burst leaves at one of them. */
  const OFFSETS = [-4, -3, -2, -1, 0, 1];

  it('hammered right when a uvicorn-like backend closes its idle connections, GETs and POSTs all succeed, with the retries counted', async () => {
    const backend = await startIdleClosingBackend('v1', IDLE_CLOSE_MS);
    cleanup.push(() => backend.close());
    // Only stale connections may fail a request here, not a busy machine's slow answer.
    const g = await startTestGateway(configYaml({ v1: [backend.url] }).replace('request: 1s }', 'request: 10s }'));
    cleanup.push(() => g.close());
    const agent = new Agent({ keepAlive: true, maxSockets: BURST });
    cleanup.push(async () => agent.destroy());
    const url = `${g.proxyUrl}/fraud/score`;

    let requests = 0;
    const failures: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await Promise.all(
        Array.from({ length: BURST }, async (_, i) => {
          const post = i % 2 === 1;
          const sent = post ? JSON.stringify({ round, i }) : null;
          requests++;
          try {
            const answer = await call(agent, url, post ? 'POST' : 'GET', `u${i}`, sent);
            const echoed = answer.status === 200 ? (JSON.parse(answer.body) as { body: string }).body : null;
            if (answer.status !== 200 || echoed !== (sent ?? '')) failures.push(`${post ? 'POST' : 'GET'} ${answer.status} ${answer.body.slice(0, 200)}`);
          } catch (err) {
            failures.push(`${post ? 'POST' : 'GET'} ${(err as Error).message}`);
          }
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, IDLE_CLOSE_MS + OFFSETS[round % OFFSETS.length]!));
    }

    const retries = await metric(g, 'switchyard_upstream_retries_total', `service="${SERVICE}",version="v1"`);
    const errors = await metric(g, 'switchyard_upstream_errors_total', `service="${SERVICE}",version="v1"`);
    console.log(`stale connections: ${requests} requests, ${failures.length} failed, ${retries} retried; backend closed ${backend.closedIdle} idle connections`);
    expect(failures).toEqual([]);
    expect(retries).toBeGreaterThan(0);
    expect(errors).toBe(0);
    expect(await windows(g, 'v1')).toEqual({ requests, errors: 0 });
  }, 60_000);
});
